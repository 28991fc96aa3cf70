"""The guard's per-app state in ``app.extensions["authguard"]`` and the request's token."""

from __future__ import annotations

import dataclasses
import typing as t

from flask import Flask, current_app, has_request_context, request
from flask.ctx import _AppCtxGlobals

from ..core.errors import BackendUnavailableError, ConfigurationError
from ..core.settings.config import Config
from ..core.tokens.request_token import TOKEN_ENVIRON_KEY, Claims
from ..guard.decision import AuthCore

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


@dataclasses.dataclass
class GuardState:
    """Per-app state, kept in ``app.extensions["authguard"]``."""

    #: The :class:`~flask_authguard.AuthGuard` installed on the app.
    guard: t.Any
    core: AuthCore
    #: The app the guard is installed on.
    app: Flask = dataclasses.field(repr=False)
    #: The app's own static-file view (``None`` without a static folder): public by identity.
    static_view: t.Callable[..., t.Any] | None = None

    @property
    def config(self) -> Config:
        """The app's resolved options."""
        return self.core.config


#: Set by the guard's WSGI layer to the :class:`GuardState` of the app the request is routed to.
LAYER_KEY = "authguard.layer"


def request_state(environ: WSGIEnvironment) -> GuardState:
    """The guard's state for a request: what its WSGI layer handed over, else (a request
    dispatched without the layer, by hand) ``current_app``'s.

    :raises ConfigurationError: ``AuthGuard`` was not initialised on the app.
    """
    state: GuardState | None = environ.get(LAYER_KEY)
    return state if state is not None else state_of()


def state_of(app: Flask | None = None) -> GuardState:
    """The :class:`GuardState` of ``app`` (default ``current_app``).

    :raises ConfigurationError: ``AuthGuard`` was not initialised on the app.
    """
    app = app or current_app
    try:
        return t.cast(GuardState, app.extensions["authguard"])
    except KeyError:
        raise ConfigurationError("AuthGuard is not initialised on this app: call AuthGuard(app)") from None


def token_or_none(core: AuthCore, environ: WSGIEnvironment) -> Claims | None:
    """The request's token from ``core``, or ``None`` when the session store is unavailable."""
    try:
        return core.token(environ)
    except BackendUnavailableError:
        # The session store failed: public pages go on without a token; a protected one
        # answers 503 from the check (the failure is remembered, not retried).
        return None


def current_token() -> Claims | None:
    """The decoded token of the current Flask request (``g.auth_token``'s value), decoded now
    if nothing asked for it yet."""
    # the proxies resolved by their own method: an attribute read through one costs a failed
    # lookup (an AttributeError made and cleared) before it is forwarded
    state = current_app._get_current_object().extensions.get("authguard")  # type: ignore[attr-defined]
    environ = request._get_current_object().environ  # type: ignore[attr-defined]
    if state is None:  # no guard on this app: whatever a with_auth layer left in the environ
        return t.cast("Claims | None", environ.get(TOKEN_ENVIRON_KEY))
    return token_or_none(t.cast(GuardState, state).core, environ)


class LazyToken:
    """Mixin for the app's ``g`` class: ``g.auth_token`` is computed on first use in a request
    (the decoded token or ``None``, decoded once per request: the guard's check and
    ``g.auth_token`` share it), then an ordinary attribute."""

    def __getattr__(self, name: str) -> t.Any:
        if name == "auth_token" and has_request_context():
            state = current_app._get_current_object().extensions.get("authguard")  # type: ignore[attr-defined]
            if state is not None:
                value = token_or_none(state.core, request._get_current_object().environ)  # type: ignore[attr-defined]
                self.__dict__["auth_token"] = value
                return value
        return super().__getattr__(name)  # type: ignore[misc]

    def get(self, name: str, default: t.Any = None) -> t.Any:
        if name == "auth_token" and name not in self.__dict__ and has_request_context():
            return getattr(self, name, default)
        return super().get(name, default)  # type: ignore[misc]

    def __contains__(self, item: str) -> bool:
        if item == "auth_token" and has_request_context():
            return True
        return bool(super().__contains__(item))  # type: ignore[misc]


class AuthGuardGlobals(LazyToken, _AppCtxGlobals):
    """Flask's own ``g`` class with the lazy ``g.auth_token``."""


def token_globals(base: type[t.Any]) -> type[t.Any]:
    """The ``g`` class for an app whose class is ``base``: :class:`AuthGuardGlobals` for Flask's
    own, ``base`` itself when it has :class:`LazyToken` already, else ``base`` with it (the
    app's own class is kept, whatever it is)."""
    if issubclass(base, LazyToken):
        return base
    if base is _AppCtxGlobals:
        return AuthGuardGlobals
    return type(f"AuthGuard{base.__name__}", (LazyToken, base), {"__module__": base.__module__})
