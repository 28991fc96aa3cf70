"""A passkey ceremony's challenge, kept in Auth.js's check cookie and used once.

``GET /webauthn-options/<id>`` makes a random challenge and keeps it in the ``authjs.challenge``
cookie (``next-auth.challenge`` on version 4; ``__Host-`` prefixed on https, as our other check
cookies), encrypted as next-auth encrypts its checks (the cookie's name is the key-derivation
salt), for 15 minutes: the challenge never travels in clear. The cookie also says which
provider, which action (``authenticate`` or ``register``) and, for a registration, which
signed-in user asked.

``POST /callback/<id>`` reads the cookie and clears it, then spends the challenge in the store
(:mod:`~flask_authguard.core.defences.store`: the ``limits`` counter is hit atomically, in Redis too, and a
limit of one use per cookie life makes the challenge single-use across workers): a replayed
request, cookie included, is refused even where the authenticator's signature counter stays at
zero (synced passkeys).
"""

from __future__ import annotations

import hashlib
import typing as t

from ..core import _clock
from ..core.errors import TokenError
from ..core.http.cookies import decode_value, delete_cookie_header, set_cookie_header
from ..core.runtime import runtime_of
from ..core.tokens import jwt
from ..core.tokens.request_token import request_cookies
from .checks import CHECK_MAX_AGE

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from ..core.settings.config import Config

#: The ``cookies`` option of the challenge cookie.
COOKIE_KIND = "webauthn_challenge"


class ChallengeFailed(Exception):
    """The challenge cookie is missing, undecodable, expired, for another provider or action,
    or its challenge was used already."""


def challenge_cookie(config: Config, challenge: str, secure: bool, **claims: t.Any) -> str:
    """The ``Set-Cookie`` value keeping ``challenge`` (base64url) and ``claims`` (``provider``,
    ``action``, ``user``) for 15 minutes, encrypted."""
    spec = config.cookie(COOKIE_KIND, secure)
    sealed = jwt.encode(
        token={"challenge": challenge, **claims},
        secret=config.current_secrets(),
        max_age=CHECK_MAX_AGE,
        salt=spec.name,
        version=config.version,
    )
    return set_cookie_header(spec, sealed, expires=_clock.now() + CHECK_MAX_AGE, max_age=CHECK_MAX_AGE)


def clear_challenge(config: Config, secure: bool) -> str:
    """The ``Set-Cookie`` value deleting the challenge cookie."""
    return delete_cookie_header(config.cookie(COOKIE_KIND, secure))


def read_challenge(
    config: Config, request: Request, secure: bool, *, provider: str, action: str
) -> dict[str, t.Any]:
    """The claims the challenge cookie holds for ``provider`` and ``action``, once: the
    challenge is spent in the store here.

    :raises ChallengeFailed: see the class.
    :raises BackendUnavailableError: the store cannot be reached.
    """
    spec = config.cookie(COOKIE_KIND, secure)
    raw = request_cookies(request.environ).get(spec.name)
    if not raw:
        raise ChallengeFailed("the challenge cookie was missing")
    try:
        claims = jwt.decode(
            token=decode_value(raw), secret=config.current_secrets(), salt=spec.name, version=config.version
        )
    except TokenError as exc:
        raise ChallengeFailed(f"the challenge cookie could not be decoded: {exc.reason}") from None
    claims = claims or {}
    challenge = claims.get("challenge")
    if not isinstance(challenge, str) or not challenge:
        raise ChallengeFailed("the challenge cookie holds no challenge")
    if claims.get("provider") != provider or claims.get("action") != action:
        raise ChallengeFailed("the challenge cookie was made for another provider or action")
    if not spend(config, challenge):
        raise ChallengeFailed("the challenge was used already (replay)")
    return dict(claims)


def spend(config: Config, challenge: str) -> bool:
    """Use ``challenge`` up; ``False`` when it was used already.

    :raises BackendUnavailableError: the store cannot be reached.
    """
    from limits import RateLimitItemPerSecond

    store = runtime_of(config).store
    once = RateLimitItemPerSecond(1, CHECK_MAX_AGE)
    key = hashlib.sha256(challenge.encode()).hexdigest()[:32]
    return bool(store.limiter.hit(once, store.prefix, "passkey-challenge", key))


__all__ = ["COOKIE_KIND", "ChallengeFailed", "challenge_cookie", "clear_challenge", "read_challenge", "spend"]
