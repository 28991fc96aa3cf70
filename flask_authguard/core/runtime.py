"""One runtime per options: the options resolved once, and everything derived from them.

Auth.js v5's ``NextAuth(config)`` is called once and everything it returns is bound to one
resolved config; :class:`Runtime` is that here. It holds the resolved :class:`~.config.Config`
and owns what is built from it: the store (throttle counters, revocation entries), the
revocation list, the throttle and the session strategy. Every entry point (``with_auth``,
``AuthEndpoints``, ``AuthGuard``, ``get_server_session`` in every form, the ASGI layer, the
``revoke_*`` methods) gets its runtime from :func:`runtime_for`:

- the same :class:`~.options.AuthOptions` or ``dict`` object, unchanged (and the environment
  it was resolved in unchanged), gives the same runtime, so a dict handed to ``with_auth`` and
  to ``AuthEndpoints`` is resolved once and both share one store;
- a :class:`~.config.Config` always gives the same runtime (:func:`runtime_of`);
- the ``memory://`` store is the process's (one per key prefix, :func:`~.store.open_store`),
  as a Redis store is the deployment's: two runtimes over the same secret never disagree about
  a revocation.

Nothing is cached on the :class:`~.config.Config` itself.
"""

from __future__ import annotations

import collections
import copy
import functools
import os
import threading
import typing as t
import weakref

from .defences.revocation import RevocationList
from .defences.store import Store, store_for
from .defences.throttle import Throttle
from .settings.config import Config, resolve_options
from .settings.options import AuthOptions

#: What every entry point accepts as options.
RuntimeArg = t.Union["Runtime", Config, AuthOptions, t.Mapping[str, t.Any], None]

#: The environment variables option resolution reads for an option left unset.
_SECRET_ENV = ("NEXTAUTH_SECRET", "AUTH_SECRET", "AUTH_SECRET_1", "AUTH_SECRET_2", "AUTH_SECRET_3")
_URL_ENV = ("NEXTAUTH_URL", "AUTH_URL")
_TRUST_HOST_ENV = ("AUTH_TRUST_HOST",)


class Runtime:
    """The options of one app, resolved once, and what is derived from them.

    :param config: the resolved options.
    """

    def __init__(self, config: Config) -> None:
        #: The resolved options.
        self.config = config
        #: The session strategy (:class:`~flask_authguard.sessions.JwtSessions` or
        #: :class:`~flask_authguard.sessions.DatabaseSessions`), made by the sessions layer on
        #: first use (:func:`flask_authguard.sessions.strategy_of`).
        self.sessions: t.Any = None
        self._store: Store | None = None
        self._throttle: Throttle | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Runtime {self.config!r}>"

    @property
    def store(self) -> Store:
        """The store, opened on first use (the ``memory://`` one is the process's).

        :raises ConfigurationError: no ``store_prefix`` and no secret to derive it from yet (the
            environment is read again on the next call).
        """
        store = self._store
        if store is None:
            with self._lock:
                store = self._store
                if store is None:
                    store = self._store = store_for(self.config)
        return store

    @functools.cached_property
    def revocations(self) -> RevocationList:
        """The revocation list over :attr:`store` (made on first use, then a plain attribute:
        every JWT read asks it)."""
        return RevocationList(self.store, self.config)

    @property
    def throttle(self) -> Throttle:
        """The sign-in throttle; its counters live in :attr:`store`."""
        found = self._throttle
        if found is None:
            found = self._throttle = Throttle(self.config, lambda: self.store)
        return found


_LOCK = threading.Lock()
#: Config id -> weak reference to its runtime (the runtime holds the config).
_BY_CONFIG: dict[int, weakref.ref[Runtime]] = {}
#: The runtimes made last, kept alive for callers that hold only a Config.
_RECENT: collections.deque[Runtime] = collections.deque(maxlen=64)
#: Options object id -> (the options, a copy to tell a change, the environment variables their
#: resolution read and their values then, the runtime).
_BY_OPTIONS: dict[int, tuple[t.Any, t.Any, tuple[str, ...], tuple[str | None, ...], Runtime]] = {}
_BY_OPTIONS_SIZE = 128


def runtime_of(config: Config) -> Runtime:
    """The one runtime of ``config``, made on first use."""
    ref = _BY_CONFIG.get(id(config))
    found = ref() if ref is not None else None
    if found is not None and found.config is config:
        return found
    with _LOCK:
        ref = _BY_CONFIG.get(id(config))
        found = ref() if ref is not None else None
        if found is None or found.config is not config:
            found = Runtime(config)
            key = id(config)
            _BY_CONFIG[key] = weakref.ref(found, lambda r, key=key: _forget(key, r))  # type: ignore[misc]
            _RECENT.append(found)
    return found


def _forget(key: int, ref: weakref.ref[Runtime]) -> None:
    if _BY_CONFIG.get(key) is ref:
        del _BY_CONFIG[key]


def _read_from_environment(config: Config) -> tuple[str, ...]:
    """The environment variables ``config`` was resolved from: those of the options left unset
    (only those are compared on each call: a lookup costs a microsecond)."""
    opts = config.options
    return (
        (_SECRET_ENV if opts.secret is None else ())
        + (_URL_ENV if opts.url is None else ())
        + (_TRUST_HOST_ENV if opts.trust_host is None else ())
    )


def runtime_for(options: RuntimeArg) -> Runtime:
    """The runtime of ``options``: a :class:`Runtime` as it is; a :class:`Config`'s own; for
    :class:`AuthOptions`, a ``dict`` or ``None``, the one made when this same object was last
    given, while neither it nor the environment changed (a changed one is resolved again).

    :raises ConfigurationError: a bad option.
    """
    if isinstance(options, Runtime):
        return options
    if isinstance(options, Config):
        return runtime_of(options)
    entry = _BY_OPTIONS.get(id(options))
    if entry is not None and entry[0] is options and entry[1] == options:
        get = os.environ.get
        if tuple(get(name) for name in entry[2]) == entry[3]:
            return entry[4]
    found = runtime_of(resolve_options(options))
    names = _read_from_environment(found.config)
    values = tuple(os.environ.get(name) for name in names)
    with _LOCK:
        if len(_BY_OPTIONS) >= _BY_OPTIONS_SIZE:
            _BY_OPTIONS.clear()
        # the options object itself is kept so that its id stays its own
        _BY_OPTIONS[id(options)] = (options, copy.copy(options), names, values, found)
    return found


__all__ = ["Runtime", "RuntimeArg", "runtime_for", "runtime_of"]
