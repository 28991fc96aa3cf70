"""The OAuth checks (``state``, ``pkce``, ``nonce``) kept in next-auth's own cookies.

As next-auth v4 does it (``core/lib/oauth/checks.js``): each value travels in its own cookie,
``next-auth.state``, ``next-auth.pkce.code_verifier``, ``next-auth.nonce`` (``authjs.*`` for
Auth.js v5), holding ``jwt.encode({value, provider})`` with the cookie's name as the
key-derivation salt and a 15-minute life. On the callback each is decoded with its own salt; a
missing, undecodable or expired cookie, or one made for another provider, fails the check; every
check cookie the request carried is then cleared.

On https the names are ``__Host-`` prefixed (``Secure``, ``Path=/``, no ``Domain``), as Auth.js
names its CSRF cookie (next-auth writes ``__Secure-``): a sibling subdomain cannot plant a state
or PKCE verifier of its own. ``cookies.state``, ``cookies.pkce_code_verifier`` and
``cookies.nonce`` override a name or its attributes; the resolver of every other cookie
(:meth:`~flask_authguard.core.settings.config.Config.cookie`) answers for them too, for writer and reader.
"""

from __future__ import annotations

import threading
import typing as t

from ..core import _clock
from ..core.errors import TokenError
from ..core.http.cookies import decode_value, delete_cookie_header, set_cookie_header
from ..core.settings.config import Config, CookieSpec
from ..core.tokens import jwt
from ..core.tokens.request_token import request_cookies

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Request

#: Seconds a check cookie lives (next-auth: 15 minutes).
CHECK_MAX_AGE = 15 * 60
#: The checks next-auth knows and the ``cookies`` option of each one's cookie.
CHECK_COOKIES = {"state": "state", "pkce": "pkce_code_verifier", "nonce": "nonce"}


class CheckFailed(Exception):
    """A check cookie is missing, undecodable, expired or made for another provider."""


def check_cookie(config: Config, check: str, secure: bool) -> CookieSpec:
    """The cookie of ``check`` (``state``, ``pkce``, ``nonce``) for a plain or secure request."""
    return config.cookie(CHECK_COOKIES[check], secure)


def set_check(
    config: Config,
    check: str,
    secure: bool,
    value: str,
    provider_id: str,
    *,
    extra: t.Mapping[str, t.Any] | None = None,
) -> str:
    """The ``Set-Cookie`` value keeping ``value`` for ``provider_id``'s callback: encrypted as
    next-auth encrypts it, ``Max-Age`` and ``Expires`` 15 minutes ahead (next-auth's nonce
    cookie has no ``Max-Age``).

    :param extra: more claims to keep with it (a step-up sign-in's ``max_age``), read back with
        :func:`check_claims`.
    """
    spec = check_cookie(config, check, secure)
    sealed = jwt.encode(
        token={**(extra or {}), "value": value, "provider": provider_id},
        secret=config.current_secrets(),
        max_age=CHECK_MAX_AGE,
        salt=spec.name,
        version=config.version,
    )
    return set_cookie_header(
        spec,
        sealed,
        expires=_clock.now() + CHECK_MAX_AGE,
        max_age=None if check == "nonce" else CHECK_MAX_AGE,
    )


def check_claims(
    config: Config, request: Request, check: str, secure: bool, provider_id: str
) -> dict[str, t.Any]:
    """Everything the check cookie holds for ``provider_id``: its ``value`` and the ``extra``
    claims :func:`set_check` was given.

    :raises CheckFailed: no such cookie, or one that does not decode to this provider's value.
    """
    spec = check_cookie(config, check, secure)
    raw = request_cookies(request.environ).get(spec.name)
    if not raw:
        raise CheckFailed(f"{check} cookie was missing")
    try:
        claims = jwt.decode(
            token=decode_value(raw), secret=config.current_secrets(), salt=spec.name, version=config.version
        )
    except TokenError as exc:
        raise CheckFailed(f"{check} cookie could not be decoded: {exc.reason}") from None
    value = (claims or {}).get("value")
    if not isinstance(value, str) or not value:
        raise CheckFailed(f"{check} cookie holds no value")
    if claims.get("provider") != provider_id:  # type: ignore[union-attr]
        raise CheckFailed(f"{check} cookie was made for another provider")
    return dict(claims)  # type: ignore[arg-type]


def clear_checks(config: Config, request: Request, secure: bool) -> list[str]:
    """Deletions of every check cookie the request carried (they are single use)."""
    cookies = request_cookies(request.environ)
    out = []
    for check in CHECK_COOKIES:
        spec = check_cookie(config, check, secure)
        if spec.name in cookies:
            out.append(delete_cookie_header(spec))
    return out


_used: dict[str, float] = {}
_used_lock = threading.Lock()
#: States remembered as used, at most (the oldest are forgotten first).
MAX_USED_STATES = 100_000


def mark_used(state: str) -> bool:
    """Remember ``state`` as used for its cookie's life; ``False`` when it was used already (a
    replayed callback). Kept in this process: with several workers a replay can still reach
    another one, where the identity provider's single-use code stops it."""
    now = _clock.now()
    with _used_lock:
        if len(_used) >= MAX_USED_STATES or (_used and next(iter(_used.values())) < now):
            for key in [k for k, expires in _used.items() if expires < now]:
                del _used[key]
            while len(_used) >= MAX_USED_STATES:
                del _used[next(iter(_used))]
        if state in _used:
            return False
        _used[state] = now + CHECK_MAX_AGE
        return True
