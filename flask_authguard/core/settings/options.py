"""Options: next-auth's ``authOptions`` in Python, resolved once at start-up.

:class:`AuthOptions` is what users write (or a plain ``dict`` with the same snake_case keys);
:func:`~flask_authguard.core.settings.config.resolve_options` (in :mod:`flask_authguard.core.settings.config`)
turns it into the frozen :class:`~flask_authguard.core.settings.config.Config`, reading the environment
fallbacks there and failing fast, with a message that says what to set, on a bad value.
"""

from __future__ import annotations

import dataclasses
import logging
import typing as t
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from ..two_factor import TwoFactorOptions
from .checks import masked_uri
from .defence_options import ThrottleOptions

__all__ = [
    "CHUNK_SIZES",
    "COOKIE_STEMS",
    "DEFAULT_BASE_PATH",
    "DEFAULT_MAX_AGE",
    "DEFAULT_UPDATE_AGE",
    "NO_SECRET",
    "AuthOptions",
    "Callback",
    "Callbacks",
    "CookieOption",
    "CookiesOptions",
    "Events",
    "JWTOptions",
    "OptionsArg",
    "Pages",
    "SessionOptions",
    "coerce_options",
    "masked_repr",
]

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
#: The cookie name stem per ``version``: ``next-auth.session-token`` / ``authjs.session-token``.
COOKIE_STEMS = {4: "next-auth", 5: "authjs"}


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
    #: ``jwt(*, token, user, account, profile, trigger, session, is_new_user)`` -> token or
    #: ``None``. Callbacks get keyword arguments only, some of them only in some calls: end
    #: each one with ``**kwargs`` to accept the others.
    jwt: Callback | None = None
    #: ``session(*, session, token, user)`` (on an update also ``trigger``, ``new_session``)
    #: -> session.
    session: Callback | None = None
    #: ``sign_in(*, user, account, profile, credentials)`` (for an email link also ``email``)
    #: -> ``True``, ``False`` or a URL to send the browser to.
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
    #: The OAuth check cookies (next-auth's ``state``, ``pkceCodeVerifier``, ``nonce``); their
    #: name is also the key-derivation salt of the value they hold.
    state: CookieOption | None = None
    pkce_code_verifier: CookieOption | None = None
    nonce: CookieOption | None = None
    #: What was typed into a refused credentials form (never a password), encrypted, for five
    #: minutes: the sign-in page gives it back once.
    signin_fields: CookieOption | None = None
    #: ``two_factor``: a sign-in waiting for its second factor (encrypted, five minutes), and a
    #: TOTP secret being enrolled (encrypted, fifteen minutes).
    two_factor: CookieOption | None = None
    two_factor_setup: CookieOption | None = None
    #: A passkey ceremony's challenge (Auth.js's ``webauthnChallenge``), encrypted, 15 minutes.
    webauthn_challenge: CookieOption | None = None


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
    #: Hosts whose ``Host`` header may give links and redirects their origin (werkzeug's
    #: ``TRUSTED_HOSTS`` rules; ``".example.com"`` takes subdomains); others get 400. ``None``
    #: refuses no host, and links then need ``url``, ``trust_host`` or a loopback host.
    trusted_hosts: t.Sequence[str] | None = None
    #: Build links (email link, OAuth ``redirect_uri``, redirects) on any request's ``Host``
    #: when neither ``url`` nor ``trusted_hosts`` is set (Auth.js's ``trustHost``); ``None``
    #: reads ``AUTH_TRUST_HOST``. Off, only loopback hosts do (the others get the
    #: Configuration error).
    trust_host: bool | None = None
    #: Refuse cookie-authenticated POST/PUT/PATCH/DELETE from another origin (403).
    cross_site_protection: bool = True
    #: Origins (``"http://localhost:3000"``, ``"https://*.example.com"``) whose pages may send
    #: cookie-authenticated mutations cross-origin: your front ends.
    trusted_origins: t.Sequence[str] = ()
    #: Where throttling counters and revocations live: ``"memory://"`` (one process) or
    #: ``"redis://host:port/db"`` (many workers and hosts; ``pip install flask-authguard[redis]``),
    #: ``"redis+sentinel://host:port[,host:port]/service[/db]"``,
    #: ``"redis+cluster://host:port[,host:port]"``, or the same with ``valkey``.
    store: str = "memory://"
    #: Prefix of every key written to the store; ``None``: ``authguard:`` and a fingerprint of
    #: the oldest secret, so apps with different secrets keep apart on one Redis.
    store_prefix: str | None = None
    #: Keep the revocation entries read from Redis in each worker, forgotten on Redis's
    #: invalidation pushes (``CLIENT TRACKING``): no round trip for keys read before.
    store_cache: bool = True
    throttle: ThrottleOptions | dict[str, t.Any] = dataclasses.field(default_factory=ThrottleOptions)
    #: A second factor (TOTP with recovery codes) each user may turn on: ``True`` (records in
    #: the adapter), or :class:`~flask_authguard.core.two_factor.TwoFactorOptions` / a dict
    #: (``load``, ``save``, ``issuer``). Needs ``pip install "flask-authguard[two-factor]"``.
    two_factor: bool | t.Any = False

    def __repr__(self) -> str:
        return masked_repr(self)


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


def masked_repr(obj: t.Any) -> str:
    """A dataclass ``repr`` with secrets and credentials in URLs masked (safe to log)."""
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
    if isinstance(options.two_factor, t.Mapping):  # True, False and None are for resolve_two_factor
        changes["two_factor"] = _build(TwoFactorOptions, options.two_factor, "two_factor")
    changes["cookies"] = CookiesOptions(
        **{
            f.name: _cookie_option(getattr(cookies, f.name), f"cookies.{f.name}")
            for f in dataclasses.fields(CookiesOptions)
        }
    )
    return dataclasses.replace(options, **changes)


#: What every entry point takes as options: :class:`AuthOptions`, a dict of its keys, or ``None``.
OptionsArg = AuthOptions | t.Mapping[str, t.Any] | None
