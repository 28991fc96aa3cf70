"""The database session strategy, framework-free: next-auth's session route with an adapter.

With ``adapter=...`` (and ``session.strategy`` unset or ``"database"``) the session cookie holds
an opaque session token; the session lives in the adapter's ``sessions`` table.

Reading (:meth:`DatabaseSessions.read`, behind ``get_server_session`` and ``GET /api/auth/session``),
as next-auth's session route does it:

1. look the cookie's token up with ``adapter.get_session_and_user``;
2. a session whose ``expires`` has passed is deleted and treated as missing;
3. the row's expiry is pushed to ``now + max_age`` only when
   ``expires - max_age + update_age <= now`` (at most one write per ``update_age``);
4. ``callbacks.session(session=..., user=..., token=None)`` shapes the answer, by default
   ``{"user": {"name", "email", "image"}, "expires"}`` with the row's expiry from before any
   update (ISO-8601, milliseconds, ``Z``);
5. the cookie is set again (one cookie, never chunked) with ``Expires = now + max_age``;
6. a token that names no session clears the cookie.

Protecting routes (:meth:`DatabaseSessions.token`, behind ``with_auth`` and ``AuthGuard``): next-auth's
``withAuth`` cannot read database sessions and loops; here the guard looks the session up and
hands ``authorized``, the inner middleware and ``g.auth_token`` the session's user in the shape
of next-auth's JWT: ``sub`` (the user id), ``name``, ``email``, ``picture``, plus ``expires``.
The guard only reads: it neither extends nor deletes sessions.

Signing in (:meth:`DatabaseSessions.account_user`) finds or creates the user with next-auth's
account-linking rule (:mod:`flask_authguard.sessions.accounts`); :meth:`DatabaseSessions.create`
then creates a session row with a random UUID token and sets the cookie; signing out
(:meth:`DatabaseSessions.end`) deletes the row.

A database that fails raises :class:`~flask_authguard.core.errors.BackendUnavailableError` (the
request gets 503): no cookie is cleared and no session deleted because of a failure. Every
adapter error is treated so, whatever the adapter; within one request a failed store is asked
once.
"""

from __future__ import annotations

import logging
import typing as t

from ..core import _clock
from ..core._compat import call_sync
from ..core.errors import BackendUnavailableError
from ..core.http.cookies import chunk, clean
from ..core.http.dates import iso_ms
from ..core.settings.config import Config
from ..core.tokens.request_token import Claims, database_session_cookie, session_cookies
from .accounts import resolve_user
from .adapter_calls import (
    call_adapter,
    expiry,
    forget,
    generate_session_token,
    lookup,
    plausible_token,
    session_token,
    timestamp_of,
)
from .base import NOT_UPDATE, SessionResult, cookie_spec, fire_event
from .devices import DatabaseDevices
from .provider_tokens import (
    KEPT_FIELDS,
    REFRESH_ERROR,
    check_adapter,
    has_refresh_error,
    mark_refresh_error,
    refreshing_ids,
    sign_in_record,
)

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

logger = logging.getLogger("flask_authguard")


def user_claims(user: t.Mapping[str, t.Any], expires: str) -> Claims:
    """A database session's user in the shape of next-auth's JWT, plus ``expires``."""
    user_id = user.get("id")
    return {
        "sub": None if user_id is None else str(user_id),
        "name": user.get("name"),
        "email": user.get("email"),
        "picture": user.get("image"),
        "expires": expires,
    }


class DatabaseSessions:
    """Sessions held by the adapter (``session.strategy = "database"``); the cookie holds an
    opaque session token.

    :param config: the resolved options (with an ``adapter``).
    """

    #: Whether a read may block on I/O (every read asks the adapter, a database): the ASGI
    #: layer then reads in a worker thread.
    blocking = True

    def __init__(self, config: Config) -> None:
        #: The resolved options.
        self.config = config
        check_adapter(config)
        #: The providers with ``refresh=True``: a read shows a failed refresh of their tokens.
        self._refreshing = refreshing_ids(config)
        #: The users' sessions: the rows, with the sign-in time and user agent recorded.
        self.devices = DatabaseDevices(config)

    def token(self, environ: WSGIEnvironment) -> Claims | None:
        """The session's user as JWT claims (``sub``, ``name``, ``email``, ``picture``) and
        ``expires``; ``None`` without a valid session. Read-only: the session is neither
        extended nor deleted here.

        :raises BackendUnavailableError: the adapter failed.
        """
        token = session_token(environ, self.config)
        if token is None:
            return None
        found = lookup(environ, self.config, token)
        if found is None:
            logger.debug("session cookie names no database session")
            return None
        expires = timestamp_of(found["session"]["expires"])
        if expires < _clock.now():
            logger.debug("database session expired")
            return None
        return user_claims(found["user"], iso_ms(expires))

    def read(self, environ: WSGIEnvironment, update: t.Any = NOT_UPDATE) -> SessionResult:
        """next-auth's session route, database strategy (see the module docstring).

        :param update: the posted data of a session update: handed to ``callbacks.session`` as
            ``new_session`` with ``trigger="update"``.
        :raises BackendUnavailableError: the adapter failed; nothing was cleared or deleted.
        """
        config = self.config
        spec = cookie_spec(environ, config)
        cookies, token = database_session_cookie(environ, spec.name)
        if token is None:
            return SessionResult(None, [], None)
        found = lookup(environ, config, token)
        now = _clock.now()
        if found is not None and timestamp_of(found["session"]["expires"]) < now:
            logger.debug("database session expired: deleting it")
            try:
                call_adapter(config, "delete_session", token)
            except BackendUnavailableError as exc:
                logger.warning("deleting an expired session failed (%s); it stays expired", exc)
            forget(environ)
            found = None
        if found is None:
            logger.debug("no valid database session for this cookie: clearing it")
            return SessionResult(None, clean(spec, existing=cookies), None)
        record, user = found["session"], found["user"]
        expires = timestamp_of(record["expires"])
        new_expires = expiry(now + config.session_max_age)
        if expires - config.session_max_age + config.update_age <= now:
            updated = call_adapter(config, "update_session", {"sessionToken": token, "expires": new_expires})
            forget(environ)
            if updated is None:  # signed out by a concurrent request meanwhile
                logger.debug("database session vanished while being extended")
                return SessionResult(None, clean(spec, existing=cookies), None)
            self.devices.extended(user.get("id"))
        try:
            session = self._shape(record, user, iso_ms(expires), update)
        except Exception:
            # next-auth's SESSION_ERROR: no session, and no cookie changes.
            logger.exception("callbacks.session raised: no session for this request")
            return SessionResult(None, [], None)
        set_cookies = chunk(spec, token, existing=cookies, chunk_size=config.chunk_size, expires=new_expires)
        if not isinstance(session, dict) or not session:
            session = None  # as for JWT sessions: the refreshed cookie is still set
        elif self._refreshing and has_refresh_error(config, self._refreshing, str(user["id"])):
            session["error"] = REFRESH_ERROR  # a provider token refresh failed (.refresh)
        fire_event(config, "session", session=session)
        return SessionResult(session, set_cookies, None)

    def _shape(
        self, record: t.Mapping[str, t.Any], user: t.Mapping[str, t.Any], expires: str, update: t.Any
    ) -> t.Any:
        default = {
            "user": {"name": user.get("name"), "email": user.get("email"), "image": user.get("image")},
            "expires": expires,
        }
        callback = self.config.callbacks.session
        if callback is None:
            return default
        extra = {} if update is NOT_UPDATE else {"trigger": "update", "new_session": update}
        # Auth.js v5 hands the callback the adapter's session with its user; next-auth v4 the default.
        session = {**record, "user": dict(user)} if self.config.version == 5 else default
        return call_sync(callback, session=session, token=None, user=dict(user), **extra)

    def account_user(
        self,
        user: t.Mapping[str, t.Any],
        account: t.Mapping[str, t.Any],
        *,
        profile: t.Mapping[str, t.Any] | None = None,
        allow_email_linking: bool = False,
    ) -> tuple[t.Mapping[str, t.Any], bool]:
        """The adapter's user, found or created
        (:func:`~flask_authguard.sessions.accounts.resolve_user`), for every provider."""
        return resolve_user(
            self.config, user, account, profile=profile, allow_email_linking=allow_email_linking
        )

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
        """Create a session row for the adapter's user (:meth:`account_user`) and return the
        cookie that carries its token.

        :raises BackendUnavailableError: the adapter failed; no cookie is set.
        """
        config = self.config
        db_user = user
        token = generate_session_token()
        expires = expiry(_clock.now() + config.session_max_age)
        call_adapter(
            config, "create_session", {"sessionToken": token, "userId": db_user["id"], "expires": expires}
        )
        forget(environ)
        self._keep_tokens(db_user, account)
        self.devices.signed_in(environ, db_user["id"], token, authenticated_at)
        spec = config.session_cookie(secure)
        existing = session_cookies(environ, spec.name)
        return chunk(spec, token, existing=existing, chunk_size=config.chunk_size, expires=expires)

    def _keep_tokens(self, user: t.Mapping[str, t.Any], account: t.Mapping[str, t.Any]) -> None:
        """``refresh=True``: the sign-in's tokens into the accounts row (linked at an earlier
        sign-in, it holds that one's), and the mark of a failed refresh cleared."""
        record = sign_in_record(self.config, account)
        if record is None:
            return
        key = {"provider": account["provider"], "providerAccountId": str(account["providerAccountId"])}
        tokens = {name: record.get(name) for name in KEPT_FIELDS}  # None clears an old one
        if account.get("id_token") is not None:
            tokens["id_token"] = account["id_token"]
        call_adapter(self.config, "update_account", {**key, **tokens})
        mark_refresh_error(self.config, str(account["provider"]), str(user["id"]), False)

    def end(self, environ: WSGIEnvironment, secure: bool) -> None:
        """Delete the request's session row; ``events.sign_out(session=...)`` with the deleted
        session (``None`` when there was none).

        :raises BackendUnavailableError: the adapter failed: the session still exists.
        """
        spec = self.config.session_cookie(secure)
        _, token = database_session_cookie(environ, spec.name)
        deleted = None
        if token is not None and plausible_token(token):
            deleted = call_adapter(self.config, "delete_session", token)
            forget(environ)
            if isinstance(deleted, t.Mapping) and deleted.get("userId") is not None:
                self.devices.signed_out(deleted["userId"], token)
        fire_event(self.config, "sign_out", session=deleted)
