"""Step-up sign-in: a view that wants a recent sign-in (``max_age``) sends an older one to sign in
again, and back.

``@auth_required(max_age=300)``, ``AuthGuard.protect(bp, max_age=300)`` and the ASGI
``require_auth(max_age=300)`` hand ``max_age`` to :meth:`AuthCore.check
<flask_authguard.guard.decision.AuthCore.check>`; once a signed-in request is authorized, the
session's sign-in time (the token's ``auth_time``, or a database session's record: the strategy's
``devices.sign_in_time``) must be at most ``max_age`` seconds old. When it is older, or unknown:

- a page gets a 307 to the sign-in page with ``callbackUrl`` (this URL) and ``max_age``: the
  built-in page then asks OpenID Connect providers for ``max_age`` and ``prompt=login`` (the
  provider asks for the password again instead of signing in silently); the new sign-in replaces
  the old session (:mod:`flask_authguard.sessions.devices`) and comes back here;
- an API request gets 401 JSON ``{"error": "insufficient_user_authentication", "max_age": ...,
  "url": <sign-in URL>}`` with ``WWW-Authenticate: Bearer error="insufficient_user_authentication",
  max_age="300"`` (RFC 9470's step-up challenge).
"""

from __future__ import annotations

import typing as t

from ..core import _clock
from ..core.http.clients import answers_json
from .answers import Redirect, json_response
from .incoming import browser_path, with_param

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

    from ..core.settings.config import Config


class StepUpCore(t.Protocol):
    """What step-up needs of :class:`~flask_authguard.guard.decision.AuthCore` (which calls it)."""

    config: Config
    sessions: t.Any

    def path(self, environ: WSGIEnvironment) -> str: ...

    def sign_in_url(self, environ: WSGIEnvironment, callback: str) -> str: ...


#: RFC 9470's error code: the sign-in is not recent enough.
INSUFFICIENT = "insufficient_user_authentication"


def checked_max_age(max_age: t.Any) -> int | None:
    """``max_age`` as given to a decorator or dependency: ``None`` or whole seconds, at least 1.

    :raises ValueError: anything else (checked when the view is decorated, not per request).
    """
    if max_age is None:
        return None
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 1:
        raise ValueError(f"max_age must be whole seconds, at least 1, not {max_age!r}")
    return max_age


def is_stale(
    core: StepUpCore, environ: WSGIEnvironment, token: t.Mapping[str, t.Any] | None, max_age: int
) -> bool:
    """Whether the request's session signed in more than ``max_age`` seconds ago (or when is
    unknown).

    :raises BackendUnavailableError: the store cannot be reached (database sessions).
    """
    started = core.sessions.devices.sign_in_time(environ, token)
    return started is None or _clock.now() - started > max_age


def sign_in_again(core: StepUpCore, environ: WSGIEnvironment, max_age: int) -> WSGIApplication:
    """The answer to a sign-in older than ``max_age``: the sign-in page (307), or 401 JSON."""
    callback = browser_path(environ, core.path(environ))
    location = with_param(core.sign_in_url(environ, callback), "max_age", str(max_age))
    if not answers_json(core.config, environ):
        return Redirect(location)
    challenge = (
        f'Bearer error="{INSUFFICIENT}", '
        'error_description="A more recent sign-in is required", '
        f'max_age="{max_age}"'
    )
    body = {
        "error": INSUFFICIENT,
        "message": "Sign in again to access this resource.",
        "max_age": max_age,
        "url": location,
    }
    return json_response(401, body, {"WWW-Authenticate": challenge})


__all__ = ["INSUFFICIENT", "StepUpCore", "checked_max_age", "is_stale", "sign_in_again"]
