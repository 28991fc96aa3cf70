"""The database session strategy, framework-free: next-auth's session route with an adapter.

With ``adapter=...`` (and ``session.strategy`` unset or ``"database"``) the session cookie holds
an opaque session token; the session lives in the adapter's ``sessions`` table.

Reading (:func:`database_session`, behind ``get_server_session`` and ``GET /api/auth/session``),
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

Protecting routes (:func:`database_token`, behind ``with_auth`` and ``AuthGuard``): next-auth's
``withAuth`` cannot read database sessions and loops; here the guard looks the session up and
hands ``authorized``, the inner middleware and ``g.auth_token`` the session's user in the shape
of next-auth's JWT: ``sub`` (the user id), ``name``, ``email``, ``picture``, plus ``expires``.
The guard only reads: it neither extends nor deletes sessions.

Signing in with credentials (:func:`sign_in_database`) finds or creates the user (see
:func:`resolve_user`), creates a session row with a random UUID token and sets the cookie;
signing out (:func:`sign_out_database`) deletes the row.

A database that fails raises :class:`~flask_authguard.errors.BackendUnavailableError` (the
request gets 503): no cookie is cleared and no session deleted because of a failure. Every
adapter error is treated so, whatever the adapter; within one request a failed store is asked
once.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t
import uuid

from ..core import _clock
from ..core._compat import call_sync
from ..core.cookies import chunk, clean, session_values
from ..core.errors import BackendUnavailableError, ConfigurationError
from ..core.options import Config, CookieSpec
from ..core.token import Claims, session_cookies
from .session import _NOT_UPDATE, SessionResult, fire_event, iso_ms

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from ..adapters import AdapterSession, AdapterUser, SessionAndUser

logger = logging.getLogger("flask_authguard")

#: Longest cookie value looked up: the default schema's ``VARCHAR(255)``.
MAX_SESSION_TOKEN_LENGTH = 255
#: The ``type`` of accounts :func:`resolve_user` links for credentials sign-ins.
CREDENTIALS_ACCOUNT_TYPE = "credentials"

_LOOKUP_KEY = "authguard.db_lookup"
_FAILURE_KEY = "authguard.db_failure"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def generate_session_token() -> str:
    """A new session token: a random UUID, as next-auth's ``generateSessionToken``."""
    return str(uuid.uuid4())


def expiry(timestamp: float) -> dt.datetime:
    """An aware UTC datetime for ``timestamp``, cut to milliseconds as a JavaScript ``Date``
    would hold it (so both sides print the same ``toISOString()``)."""
    return _EPOCH + dt.timedelta(milliseconds=int(timestamp * 1000))


def _timestamp(value: t.Any) -> float:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, dt.datetime):
        moment: dt.datetime = value
        if moment.tzinfo is None:  # an adapter that hands back naive datetimes means UTC
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return moment.timestamp()
    raise TypeError(f"a session's expires must be a datetime, not {type(value).__name__}")


# -- calling the adapter ---------------------------------------------------------------------


def _adapter(config: Config) -> t.Any:
    adapter = config.options.adapter
    if adapter is None:
        raise ConfigurationError("session.strategy 'database' needs adapter=... (e.g. SQLAlchemyAdapter)")
    return adapter


def _method(config: Config, name: str) -> t.Callable[..., t.Any]:
    method = getattr(_adapter(config), name, None)
    if not callable(method):
        raise ConfigurationError(f"the adapter has no {name}() method, which database sessions need")
    return t.cast("t.Callable[..., t.Any]", method)


def call_adapter(config: Config, name: str, *args: t.Any) -> t.Any:
    """``adapter.<name>(*args)``; any failure becomes :class:`BackendUnavailableError`.

    ``async def`` adapter methods are run to completion.
    """
    method = _method(config, name)
    try:
        return call_sync(method, *args)
    except BackendUnavailableError:
        raise
    except Exception as exc:
        raise BackendUnavailableError(f"adapter.{name} failed: {type(exc).__name__}: {exc}") from exc


# -- the cookie and the lookup ---------------------------------------------------------------


def cookie_spec(environ: WSGIEnvironment, config: Config) -> CookieSpec:
    """The session cookie for this request's scheme."""
    return config.session_cookie(config.is_secure(environ.get("wsgi.url_scheme", "http")))


def session_token(environ: WSGIEnvironment, config: Config) -> str | None:
    """The session token the request's cookie holds (chunks joined, as next-auth reads it)."""
    name = cookie_spec(environ, config).name
    values = session_values(session_cookies(environ, name), name)
    return values[0] if values else None


def plausible_token(token: str) -> bool:
    """A cookie value that may name a session: at most 255 printable characters. Anything else
    (control characters, lone surrogates) is no session and never reaches the database."""
    if len(token) > MAX_SESSION_TOKEN_LENGTH or not token.isprintable():
        return False
    try:
        token.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _lookup(environ: WSGIEnvironment, config: Config, token: str) -> SessionAndUser | None:
    """``get_session_and_user(token)``, asked once per request (a failure is remembered too)."""
    adapter = _adapter(config)
    cached = environ.get(_LOOKUP_KEY)
    if cached is not None and cached[0] is adapter and cached[1] == token:
        return t.cast("SessionAndUser | None", cached[2])
    failed = environ.get(_FAILURE_KEY)
    if failed is not None and failed[0] is adapter:
        raise failed[1]
    if not plausible_token(token):
        logger.debug("session cookie cannot be a session token")
        found = None
    else:
        try:
            found = call_adapter(config, "get_session_and_user", token)
        except BackendUnavailableError as exc:
            environ[_FAILURE_KEY] = (adapter, exc)
            raise
        if found is not None and not _well_formed(found):
            logger.error(
                "adapter.get_session_and_user returned no {'session', 'user'} record with a datetime "
                "'expires': treated as no session"
            )
            found = None
    environ[_LOOKUP_KEY] = (adapter, token, found)
    return t.cast("SessionAndUser | None", found)


def _well_formed(found: t.Any) -> bool:
    if not (
        isinstance(found, t.Mapping)
        and isinstance(found.get("session"), t.Mapping)
        and isinstance(found.get("user"), t.Mapping)
    ):
        return False
    try:
        _timestamp(found["session"].get("expires"))
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def _forget(environ: WSGIEnvironment) -> None:
    environ.pop(_LOOKUP_KEY, None)


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


def database_token(environ: WSGIEnvironment, config: Config) -> Claims | None:
    """The token ``with_auth`` and ``AuthGuard`` hand on: the session's user as JWT claims
    (``sub``, ``name``, ``email``, ``picture``) and ``expires``; ``None`` without a valid
    session. Read-only: the session is neither extended nor deleted here.

    :raises BackendUnavailableError: the adapter failed.
    """
    token = session_token(environ, config)
    if token is None:
        return None
    found = _lookup(environ, config, token)
    if found is None:
        logger.debug("session cookie names no database session")
        return None
    expires = _timestamp(found["session"]["expires"])
    if expires < _clock.now():
        logger.debug("database session expired")
        return None
    return user_claims(found["user"], iso_ms(expires))


def database_session(environ: WSGIEnvironment, config: Config, update: t.Any = _NOT_UPDATE) -> SessionResult:
    """next-auth's session route, database strategy (see the module docstring).

    :param update: the posted data of a session update: handed to ``callbacks.session`` as
        ``new_session`` with ``trigger="update"``.
    :raises BackendUnavailableError: the adapter failed; nothing was cleared or deleted.
    """
    spec = cookie_spec(environ, config)
    cookies = session_cookies(environ, spec.name)
    values = session_values(cookies, spec.name)
    if not values:
        return SessionResult(None, [], None)
    token = values[0]
    found = _lookup(environ, config, token)
    now = _clock.now()
    if found is not None and _timestamp(found["session"]["expires"]) < now:
        logger.debug("database session expired: deleting it")
        try:
            call_adapter(config, "delete_session", token)
        except BackendUnavailableError as exc:
            logger.warning("deleting an expired session failed (%s); it stays expired", exc)
        _forget(environ)
        found = None
    if found is None:
        logger.debug("no valid database session for this cookie: clearing it")
        return SessionResult(None, clean(spec, existing=cookies), None)
    record, user = found["session"], found["user"]
    expires = _timestamp(record["expires"])
    new_expires = expiry(now + config.session_max_age)
    if expires - config.session_max_age + config.update_age <= now:
        updated = call_adapter(config, "update_session", {"sessionToken": token, "expires": new_expires})
        _forget(environ)
        if updated is None:  # signed out by a concurrent request meanwhile
            logger.debug("database session vanished while being extended")
            return SessionResult(None, clean(spec, existing=cookies), None)
    try:
        session = _shape_session(config, record, user, iso_ms(expires), update)
    except Exception:
        # next-auth's SESSION_ERROR: no session, and no cookie changes.
        logger.exception("callbacks.session raised: no session for this request")
        return SessionResult(None, [], None)
    set_cookies = chunk(spec, token, existing=cookies, chunk_size=config.chunk_size, expires=new_expires)
    if not isinstance(session, dict) or not session:
        session = None  # as for JWT sessions: the refreshed cookie is still set
    fire_event(config, "session", session=session)
    return SessionResult(session, set_cookies, None)


def _shape_session(
    config: Config,
    record: t.Mapping[str, t.Any],
    user: t.Mapping[str, t.Any],
    expires: str,
    update: t.Any,
) -> t.Any:
    default = {
        "user": {"name": user.get("name"), "email": user.get("email"), "image": user.get("image")},
        "expires": expires,
    }
    callback = config.callbacks.session
    if callback is None:
        return default
    extra = {} if update is _NOT_UPDATE else {"trigger": "update", "new_session": update}
    # Auth.js v5 hands the callback the adapter's session with its user; next-auth v4 the default.
    session = {**record, "user": dict(user)} if config.version == 5 else default
    return call_sync(callback, session=session, token=None, user=dict(user), **extra)


# -- signing in and out ----------------------------------------------------------------------


def _provider_from_path(environ: WSGIEnvironment) -> str:
    """The provider id of a ``.../callback/<id>`` or ``.../signin/<id>`` request."""
    parts = str(environ.get("PATH_INFO", "")).rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] in ("callback", "signin") and parts[-1]:
        return parts[-1]
    return "credentials"


def _text(value: t.Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def resolve_user(config: Config, user: t.Mapping[str, t.Any], provider: str) -> AdapterUser:
    """The database user for a user your ``authorize`` returned.

    next-auth's own model: a provider identity is an *account* linked to a user.

    1. The account ``(provider, str(user["id"]))`` is linked already: its user.
    2. Else a user with the same ``email`` (your ``authorize`` vouches for it): that user.
    3. Else a new user from ``name``, ``email``, ``image``.

    In cases 2 and 3 the account is linked, so the next sign-in takes step 1 even if the email
    changed. The stored profile is kept as it is (change it with ``adapter.update_user``).
    ``authorize``'s ``id`` is never taken for a database id: ids of your user directory and of
    the ``users`` table may collide. Concurrent first sign-ins of one user end with one user.

    :raises ConfigurationError: the user has neither an ``id`` nor an ``email``.
    :raises BackendUnavailableError: the adapter failed.
    """
    account_id, email = _text(user.get("id")), _text(user.get("email"))
    if account_id is None and email is None:
        raise ConfigurationError(
            "with database sessions, authorize() must return a user with an 'id' or an 'email'"
        )
    key = {"provider": provider, "providerAccountId": account_id} if account_id is not None else None
    if key is not None:
        linked = call_adapter(config, "get_user_by_account", key)
        if linked is not None:
            return t.cast("AdapterUser", linked)
    found = call_adapter(config, "get_user_by_email", email) if email is not None else None
    if found is None:
        profile = {
            "name": _text(user.get("name")),
            "email": email,
            "emailVerified": None,
            "image": _text(user.get("image")),
        }
        try:
            found = call_sync(_method(config, "create_user"), profile)
        except BackendUnavailableError:
            raise
        except Exception as exc:  # most likely a concurrent sign-in created the user first
            found = call_adapter(config, "get_user_by_email", email) if email is not None else None
            if found is None:
                raise BackendUnavailableError(
                    f"adapter.create_user failed: {type(exc).__name__}: {exc}"
                ) from exc
    if key is not None:
        try:
            call_sync(
                _method(config, "link_account"),
                {**key, "userId": found["id"], "type": CREDENTIALS_ACCOUNT_TYPE},
            )
        except BackendUnavailableError:
            raise
        except Exception as exc:  # linked by a concurrent sign-in: take the user it linked
            linked = call_adapter(config, "get_user_by_account", key)
            if linked is None:
                raise BackendUnavailableError(
                    f"adapter.link_account failed: {type(exc).__name__}: {exc}"
                ) from exc
            found = linked
    return t.cast("AdapterUser", found)


def sign_in_database(
    environ: WSGIEnvironment,
    config: Config,
    user: t.Mapping[str, t.Any],
    secure: bool,
    account: t.Mapping[str, t.Any] | None = None,
    linked: bool = False,
) -> list[str]:
    """Create a session for a signed-in user; the ``Set-Cookie`` values that carry it.

    :param user: what the provider's ``authorize`` returned.
    :param account: the provider's account (its ``provider`` names the linked account);
        default: the provider id of the request path.
    :param linked: ``user`` is the adapter's user already (OAuth and email providers find or
        create it themselves, next-auth's way): only the session is created.
    :raises BackendUnavailableError: the adapter failed; no cookie is set.
    """
    provider = (
        str(account.get("provider")) if account and account.get("provider") else _provider_from_path(environ)
    )
    db_user = t.cast("AdapterUser", user) if linked else resolve_user(config, user, provider)  # issue 13
    token = generate_session_token()
    expires = expiry(_clock.now() + config.session_max_age)
    call_adapter(
        config, "create_session", {"sessionToken": token, "userId": db_user["id"], "expires": expires}
    )
    _forget(environ)
    spec = config.session_cookie(secure)
    existing = session_cookies(environ, spec.name)
    return chunk(spec, token, existing=existing, chunk_size=config.chunk_size, expires=expires)


def sign_out_database(environ: WSGIEnvironment, config: Config, spec: CookieSpec) -> AdapterSession | None:
    """Delete the request's session; the deleted session, or ``None`` when there was none.

    :raises BackendUnavailableError: the adapter failed: the session still exists, so the
        caller must not clear the cookie.
    """
    values = session_values(session_cookies(environ, spec.name), spec.name)
    if not values or not plausible_token(values[0]):
        return None
    deleted = call_adapter(config, "delete_session", values[0])
    _forget(environ)
    return t.cast("AdapterSession | None", deleted)


__all__ = [
    "database_session",
    "database_token",
    "generate_session_token",
    "resolve_user",
    "sign_in_database",
    "sign_out_database",
]
