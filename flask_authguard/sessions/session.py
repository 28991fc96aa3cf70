"""``get_server_session`` without a framework: the session flow of next-auth's session route.

.. code-block:: python

    from werkzeug.wrappers import Request, Response
    from flask_authguard import get_server_session

    def app(environ, start_response):
        request, response = Request(environ), Response()
        session = get_server_session(request, response, options)
        response.set_data("hello " + (session["user"]["name"] if session else "stranger"))
        return response(environ, start_response)

JWT strategy (next-auth's session route, spec section 5.1): decode the cookie,
``callbacks.jwt(token=..., ...)``, ``callbacks.session(session=..., token=...)``, re-encode with a
fresh expiry (``session.max_age``) and set the (chunked) cookie again, a rolling session. An
invalid or expired token clears the session cookies. The result is computed once per request
and options, and kept in the environ.

Where this deliberately differs from next-auth:

- no CSRF or callback-url cookie is ever set by a session read (next-auth's ``init()`` does);
- a ``jwt`` callback returning ``None`` signs the user out (Auth.js v5's rule): no session and
  the cookies are cleared (next-auth v4 returns the session and clears the cookie);
- a session callback returning anything but a non-empty ``dict`` gives no session (the
  refreshed cookie is still set, as next-auth does for ``{}``);
- a failure to re-encode keeps the cookie the user has instead of clearing it;
- without a secret a read always raises :exc:`~flask_authguard.ConfigurationError` (next-auth
  derives a throw-away secret outside production);
- a response that already writes the session cookie (a sign-out deleting it, a sign-in setting
  a new one) is never given the refresh on top: the response's own word wins.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t

from ..core import _clock
from ..core._compat import call_sync
from ..core.cookies import chunk, clean, is_session_cookie, session_values
from ..core.errors import ConfigurationError
from ..core.jwt import encode as jwe_encode
from ..core.options import NO_SECRET, AuthOptions, Config, resolve_options
from ..core.token import TOKEN_CONFIG_KEY as _TOKEN_CONFIG_KEY
from ..core.token import TOKEN_ENVIRON_KEY as _TOKEN_KEY
from ..core.token import Claims, decode_candidates, session_cookies

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

logger = logging.getLogger("flask_authguard")

Session = dict[str, t.Any]
OptionsLike = AuthOptions | t.Mapping[str, t.Any] | Config | None

_RESULT_KEY = "authguard.session"
_CONFIGS_KEY = "authguard.configs"
_NOT_UPDATE = object()
_NO_SECRET = (
    "There is a problem with the server configuration: no secret. "
    "Set NEXTAUTH_SECRET (or AUTH_SECRET), or pass secret=..."
)


class SessionResult(t.NamedTuple):
    """What one session read produced."""

    #: The session dict, or ``None``.
    session: Session | None
    #: ``Set-Cookie`` values to send (refresh or deletion), in order.
    set_cookies: list[str]
    #: The token after ``callbacks.jwt`` (JWT strategy), or ``None``.
    token: Claims | None


def iso_ms(timestamp: float) -> str:
    """``Date.toISOString()``: UTC, milliseconds, ``Z``."""
    moment = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def default_session(claims: t.Mapping[str, t.Any], expires: str) -> Session:
    """next-auth's default session: ``user`` from the token's profile claims, and ``expires``.

    A claim the token lacks is left out (JavaScript's ``undefined``); a ``null`` one stays.
    """
    pairs = (("name", "name"), ("email", "email"), ("image", "picture"))
    user = {key: claims[claim] for key, claim in pairs if claim in claims}
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


def call_jwt_callback(config: Config, token: Claims, **kwargs: t.Any) -> Claims | None:
    """``callbacks.jwt`` with every documented keyword (``None`` for the absent ones).

    :raises TypeError: the callback returned something other than a mapping or ``None``.
    """
    if config.callbacks.jwt is None:
        return token
    args: dict[str, t.Any] = {
        "user": None,
        "account": None,
        "profile": None,
        "trigger": None,
        "session": None,
    }
    args.update(kwargs)
    result = call_sync(config.callbacks.jwt, token=token, **args)
    if result is None:
        return None
    if not isinstance(result, t.Mapping):
        raise TypeError(f"callbacks.jwt must return the token (a dict) or None, not {type(result).__name__}")
    return result if isinstance(result, dict) else dict(result)


def decode_session_cookie(
    environ: WSGIEnvironment, config: Config, candidates: t.Sequence[str], cookie_name: str
) -> Claims | None:
    """The claims of the session cookie's candidate values: the guard's decode of this very
    request when it used the same options, else decoded now (never twice per request)."""
    if environ.get(_TOKEN_CONFIG_KEY) is config:
        return t.cast("Claims | None", environ.get(_TOKEN_KEY))
    return decode_candidates(
        candidates,
        secrets=config.current_secrets(),
        salt=config.salt_for(cookie_name),
        version=config.version,
        decode=config.jwt.decode,
    )


def _jwt_session(environ: WSGIEnvironment, config: Config, update: t.Any = _NOT_UPDATE) -> SessionResult:
    secure = config.is_secure(environ.get("wsgi.url_scheme", "http"))
    spec = config.session_cookie(secure)
    cookies = session_cookies(environ, spec.name)
    # getServerSession reads the cookie only, never a Bearer header.
    candidates = session_values(cookies, spec.name)
    if not candidates:
        return SessionResult(None, [], None)
    salt = config.salt_for(spec.name)
    decoded = decode_session_cookie(environ, config, candidates, spec.name)
    if decoded is None:
        logger.debug("session cookie invalid or expired: clearing it")
        return SessionResult(None, clean(spec, existing=cookies), None)
    now = _clock.now()
    expires_at = now + config.session_max_age
    try:
        if update is _NOT_UPDATE:
            token = call_jwt_callback(config, dict(decoded))
        else:
            token = call_jwt_callback(config, dict(decoded), trigger="update", session=update)
        if token is None:  # Auth.js v5's rule: a jwt callback returning None signs out
            logger.debug("callbacks.jwt returned None: signing out")
            return SessionResult(None, clean(spec, existing=cookies), None)
        # v4 builds the default session from the token as decoded; v5 from the callback's result.
        profile = decoded if config.version == 4 else token
        session: t.Any = default_session(profile, iso_ms(expires_at))
        if config.callbacks.session is not None:
            extra = {} if update is _NOT_UPDATE else {"trigger": "update", "new_session": update}
            session = call_sync(config.callbacks.session, session=session, token=token, user=None, **extra)
    except Exception:
        logger.exception("a session callback raised: no session for this request")
        return SessionResult(None, clean(spec, existing=cookies), None)
    if not isinstance(session, dict) or not session:
        if session is not None and not isinstance(session, dict):
            logger.debug("callbacks.session returned a %s: no session", type(session).__name__)
        session = None
    try:
        new_token = encode_token(config, token, config.session_max_age, salt)
    except Exception:
        # Keep the cookie the user has: a failed refresh must not sign anyone out.
        logger.exception("re-encoding the session token failed; the cookie is left as it was")
        set_cookies: list[str] = []
    else:
        set_cookies = chunk(
            spec, new_token, existing=cookies, chunk_size=config.chunk_size, expires=expires_at
        )
    fire_event(config, "session", session=session, token=token)
    return SessionResult(session, set_cookies, token)


_CONFIG_CACHE_KEY = "_authguard_config"


def config_of(options: OptionsLike) -> Config:
    """Resolve options once: an :class:`AuthOptions` keeps its resolution; a dict resolves each call
    (see :func:`request_config` to resolve it once per request)."""
    if isinstance(options, Config):
        return options
    if isinstance(options, AuthOptions):
        cached = options.__dict__.get(_CONFIG_CACHE_KEY)
        if cached is None:
            cached = resolve_options(options)
            options.__dict__[_CONFIG_CACHE_KEY] = cached
        return t.cast(Config, cached)
    return resolve_options(options)


def request_config(environ: WSGIEnvironment, options: OptionsLike) -> Config:
    """:func:`config_of`, and the same :class:`Config` for the same options object all through
    one request, so that repeated reads with a plain ``dict`` decode and encode once."""
    if options is None or isinstance(options, (Config, AuthOptions)):
        return config_of(options)
    configs: dict[int, tuple[t.Any, Config]] = environ.setdefault(_CONFIGS_KEY, {})
    entry = configs.get(id(options))
    if entry is None or entry[0] is not options:
        entry = (options, config_of(options))  # the options are kept so that the id stays theirs
        configs[id(options)] = entry
    return entry[1]


def read_session(environ: WSGIEnvironment, config: Config, *, update: t.Any = _NOT_UPDATE) -> SessionResult:
    """The session of a request, computed once per request and options.

    :param update: for a session update (``POST /session``): the posted data, handed to
        ``callbacks.jwt`` with ``trigger="update"``; never cached.

    :raises ConfigurationError: no secret is configured.
    :raises BackendUnavailableError: the session store failed (database strategy).
    """
    cached = environ.get(_RESULT_KEY)
    if cached is not None and cached[0] is config and update is _NOT_UPDATE:
        return t.cast(SessionResult, cached[1])
    if not config.current_secrets():
        logger.error("NO_SECRET: %s", NO_SECRET)
        raise ConfigurationError(_NO_SECRET)
    if config.strategy == "database":
        from .database import database_session

        result = database_session(environ, config, update)
    else:
        result = _jwt_session(environ, config, update)
    environ[_RESULT_KEY] = (config, result)
    return result


def _cookie_name(set_cookie_header: str) -> str:
    return set_cookie_header.split(";", 1)[0].partition("=")[0].strip()


def writes_session_cookie(set_cookie_headers: t.Iterable[str], session_name: str) -> bool:
    """Whether a response already sets or deletes the session cookie or a chunk of it."""
    return any(is_session_cookie(_cookie_name(h), session_name) for h in set_cookie_headers)


def apply_cookies(headers: t.Any, result: SessionResult, config: Config, secure: bool) -> bool:
    """Add ``result``'s cookies to werkzeug ``Headers``, unless the response writes the session
    cookie itself (sign-out, sign-in): its own word wins.

    :returns: whether the cookies were added.
    """
    if not result.set_cookies:
        return False
    existing = headers.getlist("Set-Cookie")
    name = config.session_cookie(secure).name
    if writes_session_cookie(existing, name):
        ours = set(result.set_cookies)
        if not all(h in ours for h in existing if is_session_cookie(_cookie_name(h), name)):
            logger.debug("the response writes the session cookie itself: no refresh")
            return False
    for header in result.set_cookies:
        if header not in existing:
            headers.add("Set-Cookie", header)
    return True
