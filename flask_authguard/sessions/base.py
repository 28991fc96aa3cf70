"""What both session strategies share: the result of a read, the protocol, the callbacks.

The "JWT or database?" question is answered once, at start-up, by
:func:`flask_authguard.sessions.strategy_of`; everything above this package talks to a
:class:`SessionStrategy` and never branches on the strategy itself.
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Mapping

from ..core._compat import call_sync, settle
from ..core.settings.config import Config, CookieSpec
from ..core.tokens.jwt import encode as jwe_encode
from ..core.tokens.request_token import Claims

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

logger = logging.getLogger("flask_authguard")

Session = dict[str, t.Any]

#: The ``update`` of a plain read (not a ``POST /session`` update).
NOT_UPDATE: t.Any = object()


class SessionResult(t.NamedTuple):
    """What one session read produced."""

    #: The session dict, or ``None``.
    session: Session | None
    #: ``Set-Cookie`` values to send (refresh or deletion), in order.
    set_cookies: list[str]
    #: The token after ``callbacks.jwt`` (JWT strategy), or ``None``.
    token: Claims | None


class SessionStrategy(t.Protocol):
    """Where sessions live: :class:`~flask_authguard.sessions.jwt.JwtSessions` (in the cookie)
    or :class:`~flask_authguard.sessions.database.DatabaseSessions` (in the adapter)."""

    #: The resolved options the strategy was made for.
    config: Config
    #: Whether a read may block on I/O (a database): async front ends run it in a thread.
    blocking: bool
    #: The users' sessions, one by one ("your devices"):
    #: :class:`~flask_authguard.sessions.devices.JwtDevices` or
    #: :class:`~flask_authguard.sessions.devices.DatabaseDevices`.
    devices: t.Any

    def token(self, environ: WSGIEnvironment) -> Claims | None:
        """The token the guard hands on (``authorized``, inner middleware, ``g.auth_token``);
        read-only: nothing is refreshed or deleted.

        :raises BackendUnavailableError: the session store failed.
        """
        ...

    def read(self, environ: WSGIEnvironment, update: t.Any = NOT_UPDATE) -> SessionResult:
        """next-auth's session route: the session and the cookies that roll it (or clear it).

        :param update: the posted data of a session update, or :data:`NOT_UPDATE`.
        :raises BackendUnavailableError: the session store failed; nothing was cleared.
        """
        ...

    def account_user(
        self,
        user: t.Mapping[str, t.Any],
        account: t.Mapping[str, t.Any],
        *,
        profile: t.Mapping[str, t.Any] | None = None,
        allow_email_linking: bool = False,
    ) -> tuple[t.Mapping[str, t.Any], bool]:
        """The user a sign-in that ``callbacks.sign_in`` allowed is for, and whether it was just
        created: the adapter's user (found, or created and linked with next-auth's rule,
        :func:`~flask_authguard.sessions.accounts.resolve_user`) whenever the sign-in is
        stored (database sessions; OAuth and email sign-ins with any adapter), else the
        provider's user as it is.

        :param allow_email_linking: the provider's ``allow_dangerous_email_account_linking``.
        :raises SignInError: ``OAuthAccountNotLinked``, ``OAuthCreateAccount``, ``EmailCreateAccount``.
        :raises BackendUnavailableError: the adapter failed.
        """
        ...

    def create(
        self,
        environ: WSGIEnvironment,
        secure: bool,
        *,
        user: t.Mapping[str, t.Any],
        account: t.Mapping[str, t.Any],
        profile: t.Mapping[str, t.Any] | None = None,
        is_new_user: bool = False,
        amr: t.Sequence[str] | None = None,
        authenticated_at: float | None = None,
    ) -> list[str] | None:
        """Start a session for a user who just signed in: the ``Set-Cookie`` values that carry
        it, or ``None`` when ``callbacks.jwt`` refused.

        :param user: what :meth:`account_user` returned.
        :param is_new_user: what :meth:`account_user` returned (``callbacks.jwt`` then gets
            ``trigger="signUp"``).
        :param amr: the methods the user signed in with (``two_factor``: ``["pwd", "otp"]``...);
            the JWT strategy puts them in the token's ``amr`` claim, the database strategy
            has no column for them (see :mod:`~flask_authguard.sessions.two_factor`).
        :param authenticated_at: when the identity provider authenticated the user, when the
            sign-in says (:attr:`~flask_authguard.providers.base.SignInResult.authenticated_at`,
            an OpenID Connect ID token's ``auth_time``): a view with ``max_age`` measures the
            session from it when it is earlier than the session's start (the token's
            ``idp_auth_time``, or the database session's record).
        :raises SignInError: the sign-in must be refused with that code.
        :raises BackendUnavailableError: the session store failed; no cookie is set.
        """
        ...

    def end(self, environ: WSGIEnvironment, secure: bool) -> None:
        """End the request's session (sign-out) and fire ``events.sign_out``; the caller
        deletes the cookies.

        :raises BackendUnavailableError: the session store failed: the session still exists,
            so the caller must not clear the cookie.
        """
        ...


def cookie_spec(environ: WSGIEnvironment, config: Config) -> CookieSpec:
    """The session cookie for this request's scheme."""
    return config.session_cookie(config.is_secure(environ.get("wsgi.url_scheme", "http")))


def default_session(claims: t.Mapping[str, t.Any], expires: str) -> Session:
    """next-auth's default session: ``user`` from the token's profile claims, and ``expires``.

    A claim the token lacks is left out (JavaScript's ``undefined``); a ``null`` one stays.
    """
    user: dict[str, t.Any] = {}
    if "name" in claims:
        user["name"] = claims["name"]
    if "email" in claims:
        user["email"] = claims["email"]
    if "picture" in claims:
        user["image"] = claims["picture"]
    return {"user": user, "expires": expires}


def fire_event(config: Config, name: str, **kwargs: t.Any) -> None:
    """Run ``events.<name>``; an event's failure is logged, never raised."""
    hook = getattr(config.events, name)
    if hook is None:
        return
    try:
        call_sync(hook, **kwargs)
    except Exception:
        logger.exception("events.%s raised; ignored", name)


def encode_token(config: Config, token: Claims, max_age: int, salt: str) -> str:
    """Encode with ``jwt.encode`` when given, else the JWE of the configured version."""
    secrets = config.current_secrets()
    if config.jwt.encode is not None:
        encoded = call_sync(config.jwt.encode, token=token, secret=secrets[0], max_age=max_age, salt=salt)
        if not isinstance(encoded, str) or not encoded:
            raise TypeError(f"jwt.encode must return a non-empty str, not {type(encoded).__name__}")
        return encoded
    return jwe_encode(token=token, secret=secrets, max_age=max_age, salt=salt, version=config.version)


#: The keywords ``callbacks.jwt`` always gets, absent ones ``None``.
_JWT_ARGS: dict[str, t.Any] = dict.fromkeys(("user", "account", "profile", "trigger", "session"))


def call_jwt_callback(config: Config, token: Claims, **kwargs: t.Any) -> Claims | None:
    """``callbacks.jwt`` with every documented keyword (``None`` for the absent ones).

    :raises TypeError: the callback returned something other than a mapping or ``None``.
    """
    callback = config.callbacks.jwt
    if callback is None:
        return token
    if kwargs:
        result = call_sync(callback, token=token, **(_JWT_ARGS | kwargs))
    else:  # a session read: _JWT_ARGS spelt out (``**`` would build the keywords again, twice
        # through call_sync); test_jwt_callback_gets_every_keyword_and_none_for_the_absent checks it
        result = callback(token=token, user=None, account=None, profile=None, trigger=None, session=None)
        result = settle(result)
    if type(result) is dict or result is None:
        return result
    if not isinstance(result, Mapping):
        raise TypeError(f"callbacks.jwt must return the token (a dict) or None, not {type(result).__name__}")
    return result if isinstance(result, dict) else dict(result)
