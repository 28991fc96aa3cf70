"""Calling the adapter for the database strategy: every failure becomes
:class:`~flask_authguard.core.errors.BackendUnavailableError`, and one request asks the store once.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t
import uuid
from collections.abc import Mapping

from ..core._compat import call_sync
from ..core.errors import BackendUnavailableError, ConfigurationError
from ..core.settings.config import Config
from ..core.tokens.request_token import database_session_cookie
from .base import cookie_spec

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from ..adapters import SessionAndUser

logger = logging.getLogger("flask_authguard")

#: Longest cookie value looked up: the default schema's ``VARCHAR(255)``.
MAX_SESSION_TOKEN_LENGTH = 255
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


def timestamp_of(value: t.Any) -> float:
    """Seconds since the epoch of a session's ``expires`` (an aware or naive-UTC datetime, or
    ISO-8601 text).

    :raises TypeError: anything else.
    """
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


def adapter_method(config: Config, name: str) -> t.Callable[..., t.Any]:
    """The adapter's ``name`` method, raw (its exceptions are the caller's to interpret).

    :raises ConfigurationError: the adapter lacks it.
    """
    method = getattr(_adapter(config), name, None)
    if not callable(method):
        raise ConfigurationError(f"the adapter has no {name}() method, which database sessions need")
    return t.cast("t.Callable[..., t.Any]", method)


def call_adapter(config: Config, name: str, *args: t.Any) -> t.Any:
    """``adapter.<name>(*args)``; any failure becomes :class:`BackendUnavailableError`.

    ``async def`` adapter methods are run to completion.
    """
    method = adapter_method(config, name)
    try:
        return call_sync(method, *args)
    except BackendUnavailableError:
        raise
    except Exception as exc:
        raise BackendUnavailableError(f"adapter.{name} failed: {type(exc).__name__}: {exc}") from exc


# -- the cookie and the lookup ---------------------------------------------------------------


def session_token(environ: WSGIEnvironment, config: Config) -> str | None:
    """The session token the request's cookie holds (see
    :func:`~flask_authguard.core.http.cookies.opaque_session_value`: never from chunks).

    Read by the one cookie reader
    (:func:`~flask_authguard.core.tokens.request_token.database_session_cookie`)."""
    return database_session_cookie(environ, cookie_spec(environ, config).name)[1]


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


def lookup(environ: WSGIEnvironment, config: Config, token: str) -> SessionAndUser | None:
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


def _mapping(value: t.Any) -> bool:
    # A dict (the usual record) without the ABC's isinstance machinery.
    return type(value) is dict or isinstance(value, Mapping)


def _well_formed(found: t.Any) -> bool:
    if not (_mapping(found) and _mapping(found.get("session")) and _mapping(found.get("user"))):
        return False
    try:
        timestamp_of(found["session"].get("expires"))
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def forget(environ: WSGIEnvironment) -> None:
    """Drop the request's remembered lookup after a write."""
    environ.pop(_LOOKUP_KEY, None)
