"""The guard's decision for an ASGI request: the same :class:`~flask_authguard.wsgi.middleware.AuthCore`
rules as ``with_auth``, run on the loop's thread when they cannot block, else in a worker thread."""

from __future__ import annotations

import inspect
import typing as t

import anyio.to_thread

from ..guard.decision import AuthCore

if t.TYPE_CHECKING:
    pass

#: Where :class:`~flask_authguard.asgi.AuthMiddleware` leaves its core in the scope.
CORE_KEY = "authguard.core"

T = t.TypeVar("T")


def runs_inline(core: AuthCore) -> bool:
    """Whether the guard's work for a request is CPU only: JWT sessions and plain-function
    hooks. A database, or a coroutine hook (run to completion by ``call_sync``), needs a thread
    so the event loop is never held up."""
    config = core.config
    hooks = (config.callbacks.authorized, config.callbacks.jwt, config.jwt.decode, core.middleware)
    if any(hook is not None and inspect.iscoroutinefunction(hook) for hook in hooks):
        return False
    return not core.sessions.blocking


def needs_whole_environ(core: AuthCore) -> bool:
    """Whether the guard's check may read more of a request than the request line and the
    headers of :data:`~flask_authguard.asgi.scope.GUARD_KEYS`: when it hands the request to code
    of the app (``callbacks.authorized``, ``forbidden``, the inner middleware), when a matcher
    entry has ``has``/``missing`` conditions (any header, cookie or query parameter), and with
    database sessions (the adapter's lookup, whose round trip dwarfs building the environ).
    A ``jwt.decode`` hook is given the token alone."""
    config = core.config
    return (
        config.strategy != "jwt"
        or core.middleware is not None
        or config.callbacks.authorized is not None
        or config.options.forbidden is not None
        or bool(core.matcher.conditional)
    )


async def run_guard(inline: bool, fn: t.Callable[..., T], *args: t.Any) -> T:
    """``fn(*args)`` on the loop's thread when ``inline``, else in a worker thread."""
    if inline:
        return fn(*args)
    return await anyio.to_thread.run_sync(fn, *args)
