"""Options resolved: :func:`resolve_options` turns :class:`~flask_authguard.core.settings.options.AuthOptions`
(or a dict) into the frozen :class:`Config` every layer reads, once, at start-up: defaults
applied, environment fallbacks read (``NEXTAUTH_SECRET``, ``AUTH_SECRET`` and ``AUTH_SECRET_1``..``_3``,
``NEXTAUTH_URL``, ``AUTH_URL``), every value checked, with a message that says what to set."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import typing as t
from urllib.parse import urlsplit

from werkzeug.http import dump_cookie

from ..errors import ConfigurationError
from ..two_factor import TwoFactorOptions, resolve_two_factor
from . import validation
from .checks import check_trust_host, check_trusted_hosts
from .defence_options import resolve_defences
from .options import (
    CHUNK_SIZES,
    COOKIE_STEMS,
    DEFAULT_BASE_PATH,
    AuthOptions,
    Callbacks,
    CookieOption,
    CookiesOptions,
    Events,
    JWTOptions,
    Pages,
    SessionOptions,
    coerce_options,
    masked_repr,
)

logger = logging.getLogger("flask_authguard")


@dataclasses.dataclass(frozen=True)
class CookieSpec:
    """A resolved cookie: its name and the attributes it is written with."""

    name: str
    path: str = "/"
    http_only: bool = True
    same_site: str | None = "Lax"
    secure: bool = False
    domain: str | None = None

    @functools.cached_property
    def key(self) -> str:
        """Every attribute in one string: a dictionary key whose hash is computed once."""
        return repr(self)

    @functools.cached_property
    def attributes(self) -> tuple[str, str]:
        """The cookie's attributes as werkzeug's ``dump_cookie`` writes them, split where
        ``Expires`` or ``Max-Age`` go: ``("; Domain=...", "; Secure; HttpOnly; Path=/; ...")``.
        Written once, with ``dump_cookie`` itself, so a ``Set-Cookie`` built from them has its
        exact bytes."""
        written = dump_cookie(
            "n",
            "v",
            path=self.path,
            domain=self.domain,
            secure=self.secure,
            httponly=self.http_only,
            samesite=self.same_site,
            max_size=0,
        )[len("n=v") :]
        domain = dump_cookie("n", "v", domain=self.domain, path=None, max_size=0)[len("n=v") :]
        if not written.startswith(domain):
            raise ConfigurationError(f"cookie {self.name!r}: unexpected attributes {written!r}")
        return domain, written[len(domain) :]


#: next-auth v4's secret variable.
_V4_SECRET_NAMES = ("NEXTAUTH_SECRET",)
#: Auth.js v5's, in the order ``@auth/core``'s ``setEnvDefaults`` builds its rotation list:
#: each numbered one is put in front of ``AUTH_SECRET``, so the highest number set signs.
_V5_SECRET_NAMES = ("AUTH_SECRET_3", "AUTH_SECRET_2", "AUTH_SECRET_1", "AUTH_SECRET")


def secret_from_env(version: int) -> tuple[str, ...]:
    """The secrets the environment gives, newest first: next-auth v4's ``NEXTAUTH_SECRET`` or
    Auth.js v5's ``AUTH_SECRET`` with ``AUTH_SECRET_1``..``_3`` (rotation, ordered as
    ``@auth/core`` orders them: the highest number set signs, ``AUTH_SECRET`` comes last).

    Where both kinds are set, the ``version``'s own wins (v4: ``NEXTAUTH_SECRET``; v5: the
    ``AUTH_SECRET`` ones, as next-auth v5's ``AUTH_SECRET ?? NEXTAUTH_SECRET``), and the other
    is not read: a kind that is set wins even when empty (which then means "no secret").
    """
    kinds = (_V4_SECRET_NAMES, _V5_SECRET_NAMES) if version == 4 else (_V5_SECRET_NAMES, _V4_SECRET_NAMES)
    for names in kinds:
        values = [os.environ.get(name) for name in names]
        if any(value is not None for value in values):
            return tuple(dict.fromkeys(value for value in values if value))
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
    #: Any ``Host`` may give links their origin (``trust_host`` / ``AUTH_TRUST_HOST``).
    trust_host: bool = False
    #: ``session.max_lifetime``: seconds from sign-in after which a session ends, or ``None``.
    max_lifetime: int | None = None
    #: Whether cookie-authenticated mutations from other origins are refused.
    cross_site_protection: bool = True
    #: The trusted origins, normalised (``scheme://host[:port]``, lower case, no default port).
    trusted_origins: tuple[str, ...] = ()
    #: The store URI (``memory://``, ``redis://...``, ``redis+sentinel://...``,
    #: ``redis+cluster://...``) and its key prefix (``None``: derived from the secrets when the
    #: store is opened, :func:`~flask_authguard.core.defences.store.default_prefixes`).
    store: str = "memory://"
    store_prefix: str | None = None
    #: Whether a Redis store keeps what it read in the process (``store_cache``).
    store_cache: bool = True
    #: The throttle limits (``None`` when throttling is off): per identifier and address, per
    #: identifier from all addresses, per address.
    throttle_identifier: str | None = None
    throttle_identifier_global: str | None = None
    throttle_address: str | None = None
    #: ``two_factor``, checked (:func:`~flask_authguard.core.two_factor.resolve_two_factor`);
    #: ``None`` when off.
    two_factor: TwoFactorOptions | None = None
    #: ``url``'s ``scheme://host[:port]`` (``https`` when it has no scheme), or ``None``.
    url_origin: str | None = dataclasses.field(init=False, repr=False, compare=False)
    #: The session cookie for a plain and for a secure request.
    session_cookies: tuple[CookieSpec, CookieSpec] = dataclasses.field(init=False, repr=False, compare=False)
    #: The key-derivation salts of their tokens (:meth:`salt_for`), plain and secure.
    session_salts: tuple[str, str] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # derived once, here: nothing is cached on a Config later
        origin = None
        if self.url:
            parts = urlsplit(self.url if "://" in self.url else "https://" + self.url)
            origin = f"{parts.scheme}://{parts.netloc}"
        object.__setattr__(self, "url_origin", origin)
        cookies = (_cookie_spec(self, "session_token", False), _cookie_spec(self, "session_token", True))
        object.__setattr__(self, "session_cookies", cookies)
        object.__setattr__(self, "session_salts", tuple(self.salt_for(spec.name) for spec in cookies))

    def __repr__(self) -> str:
        return masked_repr(self)

    def current_secrets(self) -> tuple[str, ...]:
        """The secrets, or, when none was configured, whatever the environment has now."""
        return self.secrets or secret_from_env(self.version)

    def is_secure(self, request_scheme: str) -> bool:
        """The one rule for ``__Secure-`` names and the ``Secure`` attribute, for readers and
        writers alike: the explicit option, else ``url``'s scheme, else the request's."""
        return self.secure if self.secure is not None else request_scheme == "https"

    def cookie(self, kind: str, secure: bool) -> CookieSpec:
        """The cookie of ``kind`` (``session_token``, ``csrf_token``, ``callback_url``, and the
        OAuth checks' ``state``, ``pkce_code_verifier``, ``nonce``, the passkey challenge's
        ``webauthn_challenge``)."""
        return _cookie_spec(self, kind, secure)

    def salt_for(self, cookie_name: str) -> str:
        """The key-derivation salt of session tokens stored under ``cookie_name``: the name
        itself for Auth.js v5, ``""`` for next-auth v4."""
        return cookie_name if self.version == 5 else ""

    def session_cookie(self, secure: bool) -> CookieSpec:
        """The session cookie for a secure or plain request."""
        return self.session_cookies[secure]


_COOKIE_SUFFIX = {
    "session_token": "session-token",
    "csrf_token": "csrf-token",
    "callback_url": "callback-url",
    "state": "state",
    "pkce_code_verifier": "pkce.code_verifier",
    "nonce": "nonce",
    "signin_fields": "signin-fields",
    "two_factor": "two-factor",
    "two_factor_setup": "two-factor-setup",
    "webauthn_challenge": "challenge",
}
#: Cookies bound to this host (``__Host-``: ``Secure``, ``Path=/``, no ``Domain``) on https: the
#: CSRF cookie, as in next-auth, and the OAuth check cookies (next-auth says ``__Secure-``), so a
#: sibling subdomain can neither plant nor overwrite them.
_HOST_COOKIES = frozenset(
    {
        *("csrf_token", "state", "pkce_code_verifier", "nonce", "signin_fields"),
        *("two_factor", "two_factor_setup", "webauthn_challenge"),
    }
)


@functools.lru_cache(maxsize=64)
def _default_cookie(version: int, kind: str, secure: bool) -> CookieSpec:
    prefix = ("__Host-" if kind in _HOST_COOKIES else "__Secure-") if secure else ""
    return CookieSpec(name=f"{prefix}{COOKIE_STEMS[version]}.{_COOKIE_SUFFIX[kind]}", secure=secure)


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
        trust_host=check_trust_host(opts.trust_host),
        two_factor=resolve_two_factor(opts.two_factor, opts.adapter),
        **resolve_defences(opts, session, strategy),
    )
