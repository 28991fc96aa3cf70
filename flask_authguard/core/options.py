"""Options: next-auth's ``authOptions`` in Python, resolved once at start-up.

:class:`AuthOptions` is what users write (or a plain ``dict`` with the same snake_case keys).
:func:`resolve_options` turns it into a frozen :class:`Config`, reading the environment
fallbacks (``NEXTAUTH_SECRET``, ``AUTH_SECRET``, ``NEXTAUTH_URL``, ``AUTH_URL``) there and
failing fast, with a message that says what to set, on a bad value.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import typing as t
from urllib.parse import urlsplit

from . import validation
from .checks import masked_uri
from .defence_options import ThrottleOptions, resolve_defences
from .errors import ConfigurationError
from .hosts import check_trusted_hosts

logger = logging.getLogger("flask_authguard")

#: Callable hooks are invoked with keyword arguments only.
Callback = t.Callable[..., t.Any]

DEFAULT_MAX_AGE = 30 * 24 * 60 * 60
DEFAULT_UPDATE_AGE = 24 * 60 * 60
DEFAULT_BASE_PATH = "/api/auth"
#: What every layer says when no secret is configured.
NO_SECRET = "no secret: set NEXTAUTH_SECRET (or AUTH_SECRET), or pass secret=..."
#: Longest value per session-cookie chunk: 4096 minus next-auth's estimate of the empty cookie.
CHUNK_SIZES = {4: 4096 - 163, 5: 4096 - 160}
_COOKIE_STEMS = {4: "next-auth", 5: "authjs"}


@dataclasses.dataclass
class SessionOptions:
    """``session``: how sessions are kept."""

    #: ``"jwt"`` or ``"database"``; ``None`` picks ``"database"`` when an adapter is set.
    strategy: str | None = None
    #: Seconds a session lives without activity (30 days).
    max_age: int = DEFAULT_MAX_AGE
    #: Database strategy: write the expiry at most once per this many seconds (1 day).
    update_age: int = DEFAULT_UPDATE_AGE
    #: JWT strategy: end a session this many seconds after sign-in however often it is
    #: refreshed (OWASP ASVS 3.3); ``None`` (default, as next-auth): no absolute limit.
    max_lifetime: int | None = None


@dataclasses.dataclass
class JWTOptions:
    """``jwt``: the token codec and its lifetime."""

    #: ``encode(token=..., secret=..., max_age=..., salt=...) -> str`` replacing the JWE.
    encode: Callback | None = None
    #: ``decode(token=..., secret=...) -> dict | None``; any exception means "no token".
    decode: Callback | None = None
    #: Lifetime of tokens issued at sign-in; default ``session.max_age`` (next-auth: 30 days).
    max_age: int | None = None


@dataclasses.dataclass
class Callbacks:
    """``callbacks``: plain callables (or coroutine functions) called with keywords."""

    #: ``authorized(*, request, token)``: truthy lets the request through.
    authorized: Callback | None = None
    #: ``jwt(*, token, user, account, profile, trigger, session)`` -> token or ``None``.
    jwt: Callback | None = None
    #: ``session(*, session, token, user)`` -> session.
    session: Callback | None = None
    #: ``sign_in(*, user, account, credentials)`` -> ``True``, ``False`` or a URL.
    sign_in: Callback | None = None
    #: ``redirect(*, url, base_url)`` -> URL.
    redirect: Callback | None = None


@dataclasses.dataclass
class Pages:
    """``pages``: your own sign-in, sign-out and error pages (paths or URLs)."""

    sign_in: str | None = None
    sign_out: str | None = None
    error: str | None = None
    #: Shown after an email sign-in link was sent (default ``<base>/verify-request``).
    verify_request: str | None = None


@dataclasses.dataclass
class Events:
    """``events``: fire-and-forget hooks; their errors are logged, never raised."""

    sign_in: Callback | None = None
    sign_out: Callback | None = None
    session: Callback | None = None
    #: ``create_user(*, user)``: a sign-in created a user in the adapter.
    create_user: Callback | None = None
    #: ``link_account(*, user, account, profile)``: an OAuth account was linked to a user.
    link_account: Callback | None = None
    #: ``update_user(*, user)``: an email sign-in marked the address verified.
    update_user: Callback | None = None


@dataclasses.dataclass
class CookieOption:
    """One cookie's name and attributes (``path``, ``http_only``, ``same_site``, ``secure``...)."""

    name: str
    options: dict[str, t.Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class CookiesOptions:
    """``cookies``: override names or attributes of the cookies flask_authguard writes."""

    session_token: CookieOption | None = None
    csrf_token: CookieOption | None = None
    callback_url: CookieOption | None = None


@dataclasses.dataclass
class AuthOptions:
    """The one options object, shared by ``with_auth``, ``AuthGuard``, the endpoints and
    ``get_server_session`` (next-auth's ``authOptions``).

    Every nested field also accepts a plain ``dict`` with the same keys.
    """

    #: 4 speaks next-auth v4 tokens and cookie names; 5 speaks Auth.js v5.
    version: int = 4
    #: A secret, or a list (newest first: the first signs, all are tried).
    secret: str | t.Sequence[str] | None = None
    #: The app's canonical URL (``NEXTAUTH_URL``); its path sets ``base_path``.
    url: str | None = None
    session: SessionOptions | dict[str, t.Any] = dataclasses.field(default_factory=SessionOptions)
    jwt: JWTOptions | dict[str, t.Any] = dataclasses.field(default_factory=JWTOptions)
    callbacks: Callbacks | dict[str, t.Any] = dataclasses.field(default_factory=Callbacks)
    pages: Pages | dict[str, t.Any] = dataclasses.field(default_factory=Pages)
    events: Events | dict[str, t.Any] = dataclasses.field(default_factory=Events)
    cookies: CookiesOptions | dict[str, t.Any] = dataclasses.field(default_factory=CookiesOptions)
    #: Sign-in providers for the built-in endpoints.
    providers: t.Sequence[t.Any] = ()
    #: Storage for the database strategy.
    adapter: t.Any = None
    #: Force ``__Secure-`` cookie names and the ``Secure`` attribute on or off.
    use_secure_cookies: bool | None = None
    #: Where the auth endpoints live (default: ``url``'s path, else ``/api/auth``).
    base_path: str | None = None
    #: How refusals answer: ``"auto"`` (JSON for API requests), ``"redirect"`` or ``"json"``.
    api_mode: str = "auto"
    #: ``forbidden(*, request, token)`` -> WSGI response for signed-in users ``authorized``
    #: refuses; default a 403 page or JSON.
    forbidden: Callback | None = None
    #: Register the ``/api/auth/...`` endpoints in ``AuthGuard`` (off when Next.js owns sign-in).
    endpoints: bool = True
    #: Let CORS preflights (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``)
    #: through unchecked; off, ``OPTIONS`` is checked like any method.
    cors_preflight: bool = False
    #: Hosts whose ``Host`` header may give redirects their origin (werkzeug's ``TRUSTED_HOSTS``
    #: rules; ``".example.com"`` takes subdomains); ``None`` trusts any. Others get 400.
    trusted_hosts: t.Sequence[str] | None = None
    #: Refuse cookie-authenticated POST/PUT/PATCH/DELETE from another origin (403).
    cross_site_protection: bool = True
    #: Origins (``"http://localhost:3000"``, ``"https://*.example.com"``) whose pages may send
    #: cookie-authenticated mutations cross-origin: your front ends.
    trusted_origins: t.Sequence[str] = ()
    #: Where throttling counters and revocations live: ``"memory://"`` (one process) or
    #: ``"redis://host:port/db"`` (many workers and hosts; ``pip install flask-authguard[redis]``).
    store: str = "memory://"
    #: Prefix of every key written to the store (share one Redis between apps).
    store_prefix: str = "authguard:"
    throttle: ThrottleOptions | dict[str, t.Any] = dataclasses.field(default_factory=ThrottleOptions)

    def __repr__(self) -> str:
        return _masked_repr(self)


def _mask(name: str, value: t.Any) -> str:
    """``repr`` of one field, secrets masked: logs and tracebacks show options safely."""
    if value is None:
        return "None"
    if name in ("secret", "secrets"):
        return "'***'" if isinstance(value, str) else f"[{', '.join(['***'] * len(value))}]"
    if name == "store":
        return masked_uri(value)
    if name == "url" and isinstance(value, str) and "@" in value:
        parts = urlsplit(value if "://" in value else "https://" + value)
        if parts.password is not None:
            host = parts.netloc.rpartition("@")[2]
            return repr(parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl())
    return repr(value)


def _masked_repr(obj: t.Any) -> str:
    shown = (
        f"{f.name}={_mask(f.name, getattr(obj, f.name))}" if f.repr else "" for f in dataclasses.fields(obj)
    )
    return f"{type(obj).__name__}({', '.join(x for x in shown if x)})"


_NESTED: dict[str, type] = {
    "session": SessionOptions,
    "jwt": JWTOptions,
    "callbacks": Callbacks,
    "pages": Pages,
    "events": Events,
    "throttle": ThrottleOptions,
}


def _build(cls: type, value: t.Any, where: str) -> t.Any:
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if not isinstance(value, t.Mapping):
        raise ConfigurationError(f"{where} must be a {cls.__name__} or a dict, not {value!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(value) - names
    if unknown:
        raise ConfigurationError(
            f"unknown key(s) in {where}: {', '.join(sorted(unknown))} "
            f"(expected some of {', '.join(sorted(names))})"
        )
    return cls(**value)


def _cookie_option(value: t.Any, where: str) -> CookieOption | None:
    if value is None or isinstance(value, CookieOption):
        return value
    if isinstance(value, t.Mapping) and isinstance(value.get("name"), str) and value["name"]:
        return CookieOption(name=value["name"], options=dict(value.get("options") or {}))
    raise ConfigurationError(f"{where} must be {{'name': str, 'options': dict}}, not {value!r}")


def coerce_options(options: AuthOptions | t.Mapping[str, t.Any] | None) -> AuthOptions:
    """An :class:`AuthOptions` from an instance, a ``dict`` or ``None``, nested dicts included."""
    if options is None:
        options = AuthOptions()
    elif isinstance(options, t.Mapping):
        options = _build(AuthOptions, options, "options")
    elif not isinstance(options, AuthOptions):
        raise ConfigurationError(f"options must be AuthOptions or a dict, not {options!r}")
    assert isinstance(options, AuthOptions)
    changes: dict[str, t.Any] = {
        name: _build(cls, getattr(options, name), name) for name, cls in _NESTED.items()
    }
    cookies = options.cookies
    if isinstance(cookies, t.Mapping):
        cookies = _build(CookiesOptions, cookies, "cookies")
    changes["cookies"] = CookiesOptions(
        **{
            f.name: _cookie_option(getattr(cookies, f.name), f"cookies.{f.name}")
            for f in dataclasses.fields(CookiesOptions)
        }
    )
    return dataclasses.replace(options, **changes)


@dataclasses.dataclass(frozen=True)
class CookieSpec:
    """A resolved cookie: its name and the attributes it is written with."""

    name: str
    path: str = "/"
    http_only: bool = True
    same_site: str | None = "Lax"
    secure: bool = False
    domain: str | None = None


def secret_from_env(version: int) -> tuple[str, ...]:
    """The secret the environment gives, next-auth's way: the first variable set wins,
    even when it is empty (which then means "no secret")."""
    names = ("NEXTAUTH_SECRET", "AUTH_SECRET") if version == 4 else ("AUTH_SECRET", "NEXTAUTH_SECRET")
    for name in names:
        value = os.environ.get(name)
        if value is not None:
            return (value,) if value else ()
    return ()


def _secrets(secret: t.Any) -> tuple[str, ...]:
    if isinstance(secret, str):
        return (secret,) if secret else ()
    if isinstance(secret, t.Sequence) and all(isinstance(s, str) and s for s in secret):
        return tuple(secret)
    raise ConfigurationError("secret must be a non-empty string or a list of them (newest first)")


def _check_callable(value: t.Any, where: str) -> None:
    if value is not None and not callable(value):
        raise ConfigurationError(f"{where} must be callable, not {value!r}")


def _path_of(url: str) -> str:
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if not parts.netloc:
        raise ConfigurationError(f"url (NEXTAUTH_URL) is not a URL: {url!r}")
    path = parts.path.rstrip("/")
    return path


#: What every entry point takes as options: :class:`AuthOptions`, a dict of its keys, or ``None``.
OptionsArg = AuthOptions | t.Mapping[str, t.Any] | None

@dataclasses.dataclass(frozen=True)
class Config:
    """Options after resolution: every default applied, every value checked."""

    options: AuthOptions
    version: int
    #: The secrets, newest first; empty when none is configured yet.
    secrets: tuple[str, ...]
    url: str | None
    base_path: str
    sign_in_page: str
    sign_out_page: str
    error_page: str
    #: Where the email provider sends people once the link is sent (``pages.verify_request``).
    verify_request_page: str
    #: ``True``/``False`` when fixed by option or URL; ``None``: follow the request's scheme.
    secure: bool | None
    strategy: str
    session_max_age: int
    update_age: int
    jwt_max_age: int
    chunk_size: int
    api_mode: str
    callbacks: Callbacks
    events: Events
    jwt: JWTOptions
    cookies: CookiesOptions
    #: CORS preflights pass unchecked (``cors_preflight``).
    cors_preflight: bool = False
    #: The hosts a checked request may come from (``None``: any); see :mod:`.hosts`.
    trusted_hosts: tuple[str, ...] | None = None
    #: ``session.max_lifetime``: seconds from sign-in after which a session ends, or ``None``.
    max_lifetime: int | None = None
    #: Whether cookie-authenticated mutations from other origins are refused.
    cross_site_protection: bool = True
    #: The trusted origins, normalised (``scheme://host[:port]``, lower case, no default port).
    trusted_origins: tuple[str, ...] = ()
    #: The store URI (``memory://`` or ``redis://...``) and its key prefix.
    store: str = "memory://"
    store_prefix: str = "authguard:"
    #: The throttle limits (``None`` when throttling is off).
    throttle_identifier: str | None = None
    throttle_address: str | None = None

    def __repr__(self) -> str:
        return _masked_repr(self)

    def current_secrets(self) -> tuple[str, ...]:
        """The secrets, or, when none was configured, whatever the environment has now."""
        return self.secrets or secret_from_env(self.version)

    def is_secure(self, request_scheme: str) -> bool:
        """The one rule for ``__Secure-`` names and the ``Secure`` attribute, for readers and
        writers alike: the explicit option, else ``url``'s scheme, else the request's."""
        return self.secure if self.secure is not None else request_scheme == "https"

    def cookie(self, kind: str, secure: bool) -> CookieSpec:
        """The cookie of ``kind`` (``session_token``, ``csrf_token``, ``callback_url``)."""
        return _cookie_spec(self, kind, secure)

    def salt_for(self, cookie_name: str) -> str:
        """The key-derivation salt of session tokens stored under ``cookie_name``: the name
        itself for Auth.js v5, ``""`` for next-auth v4."""
        return cookie_name if self.version == 5 else ""

    def session_cookie(self, secure: bool) -> CookieSpec:
        """The session cookie for a secure or plain request."""
        return self._session_cookies[secure]

    @functools.cached_property
    def _session_cookies(self) -> tuple[CookieSpec, CookieSpec]:
        # Per request: resolve both once (cached_property writes __dict__, frozen or not).
        return (_cookie_spec(self, "session_token", False), _cookie_spec(self, "session_token", True))


_COOKIE_SUFFIX = {
    "session_token": "session-token",
    "csrf_token": "csrf-token",
    "callback_url": "callback-url",
}


@functools.lru_cache(maxsize=64)
def _default_cookie(version: int, kind: str, secure: bool) -> CookieSpec:
    prefix = ("__Host-" if kind == "csrf_token" else "__Secure-") if secure else ""
    return CookieSpec(name=f"{prefix}{_COOKIE_STEMS[version]}.{_COOKIE_SUFFIX[kind]}", secure=secure)


def _cookie_spec(config: Config, kind: str, secure: bool) -> CookieSpec:
    custom: CookieOption | None = getattr(config.cookies, kind)
    default = _default_cookie(config.version, kind, secure)
    if custom is None:
        return default
    opts = custom.options
    return CookieSpec(
        name=custom.name,
        path=opts.get("path", default.path),
        http_only=opts.get("http_only", opts.get("httpOnly", default.http_only)),
        same_site=opts.get("same_site", opts.get("sameSite", default.same_site)),
        secure=opts.get("secure", default.secure),
        domain=opts.get("domain"),
    )


def resolve_options(
    options: AuthOptions | t.Mapping[str, t.Any] | None, *, warn_missing_secret: bool = True
) -> Config:
    """Check ``options`` and apply every default and environment fallback.

    :raises ConfigurationError: a value is invalid; the message names it and what to set.
    """
    opts = coerce_options(options)
    if opts.version not in (4, 5):
        raise ConfigurationError(f"version must be 4 (next-auth) or 5 (Auth.js), not {opts.version!r}")
    secrets = _secrets(opts.secret) if opts.secret is not None else secret_from_env(opts.version)
    if not secrets and warn_missing_secret:
        logger.warning(
            "no secret configured: set NEXTAUTH_SECRET (or AUTH_SECRET), or pass secret=...; "
            "protected requests answer the Configuration error until one is set"
        )
    url = opts.url
    if url is None:
        names = ("NEXTAUTH_URL", "AUTH_URL") if opts.version == 4 else ("AUTH_URL", "NEXTAUTH_URL")
        url = next((os.environ[n] for n in names if os.environ.get(n)), None)
    if url is not None:
        validation.absolute_url(url if "://" in url else "https://" + url, "url (NEXTAUTH_URL)")
    url_path = _path_of(url) if url else ""
    base_path = opts.base_path if opts.base_path is not None else (url_path or DEFAULT_BASE_PATH)
    base_path = validation.base_path(base_path).rstrip("/") or DEFAULT_BASE_PATH
    session = t.cast(SessionOptions, opts.session)
    jwt_opts = t.cast(JWTOptions, opts.jwt)
    callbacks = t.cast(Callbacks, opts.callbacks)
    events = t.cast(Events, opts.events)
    pages = t.cast(Pages, opts.pages)
    for group, obj in (("callbacks", callbacks), ("events", events), ("jwt", jwt_opts)):
        for f in dataclasses.fields(obj):
            if f.name != "max_age":
                _check_callable(getattr(obj, f.name), f"{group}.{f.name}")
    _check_callable(opts.forbidden, "forbidden")
    strategy = session.strategy or ("database" if opts.adapter is not None else "jwt")
    if strategy not in ("jwt", "database"):
        raise ConfigurationError(f"session.strategy must be 'jwt' or 'database', not {strategy!r}")
    if strategy == "database" and opts.adapter is None:
        raise ConfigurationError("session.strategy 'database' needs adapter=... (e.g. SQLAlchemyAdapter)")
    if opts.api_mode not in ("auto", "redirect", "json"):
        raise ConfigurationError(f"api_mode must be 'auto', 'redirect' or 'json', not {opts.api_mode!r}")
    sign_in, sign_out, error, verify_request = (
        validation.page(getattr(pages, name), f"pages.{name}")
        for name in ("sign_in", "sign_out", "error", "verify_request")
    )
    validation.flag(opts.cors_preflight, "cors_preflight")
    validation.flag(opts.endpoints, "endpoints")
    cookies = t.cast(CookiesOptions, opts.cookies)
    for f in dataclasses.fields(CookiesOptions):
        custom: CookieOption | None = getattr(cookies, f.name)
        if custom is not None:
            if not isinstance(custom.options, t.Mapping):
                raise ConfigurationError(f"cookies.{f.name}.options must be a dict, not {custom.options!r}")
            validation.cookie_options(custom.name, custom.options, f"cookies.{f.name}")
    max_age = validation.seconds(session.max_age, "session.max_age")
    secure = validation.optional_bool(opts.use_secure_cookies, "use_secure_cookies")
    if secure is None and url:
        secure = url.startswith("https://")
    return Config(
        options=opts,
        version=opts.version,
        secrets=secrets,
        url=url,
        base_path=base_path,
        sign_in_page=sign_in or f"{base_path}/signin",
        sign_out_page=sign_out or f"{base_path}/signout",
        error_page=error or f"{base_path}/error",
        verify_request_page=verify_request or f"{base_path}/verify-request",
        secure=secure,
        strategy=strategy,
        session_max_age=max_age,
        update_age=validation.seconds(session.update_age, "session.update_age"),
        jwt_max_age=validation.seconds(
            jwt_opts.max_age if jwt_opts.max_age is not None else max_age, "jwt.max_age"
        ),
        chunk_size=CHUNK_SIZES[opts.version],
        api_mode=opts.api_mode,
        callbacks=callbacks,
        events=events,
        jwt=jwt_opts,
        cookies=cookies,
        cors_preflight=opts.cors_preflight,
        trusted_hosts=check_trusted_hosts(opts.trusted_hosts),
        **resolve_defences(opts, session, strategy),
    )
