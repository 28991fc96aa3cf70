"""next-auth's double-submit CSRF token: cookie ``token|sha256(token + secret)``.

The cookie proves the token came from us (the hash needs the secret); a state-changing POST
must echo the token in its body as ``csrfToken``. Both checks are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _random
import typing as t

from ..http.cookies import decode_value


def csrf_hash(token: str, secret: str) -> str:
    """``sha256_hex(token + secret)``, as next-auth computes it."""
    return hashlib.sha256((token + secret).encode()).hexdigest()


def new_csrf_token() -> str:
    """32 random bytes as 64 hex characters."""
    return _random.token_hex(32)


def csrf_cookie_value(token: str, secret: str) -> str:
    """The cookie value before percent-encoding: ``token|hash``."""
    return f"{token}|{csrf_hash(token, secret)}"


def token_from_cookie(cookie_value: str | None, secrets: t.Sequence[str]) -> str | None:
    """The token of a CSRF cookie whose hash checks out under one of ``secrets``, else ``None``."""
    if not cookie_value:
        return None
    token, sep, digest = decode_value(cookie_value).partition("|")
    if not sep or not token:
        return None
    for secret in secrets:
        if hmac.compare_digest(csrf_hash(token, secret).encode(), digest.encode()):
            return token
    return None


def verify(token: str | None, submitted: t.Any) -> bool:
    """Whether the submitted ``csrfToken`` equals the cookie's token (constant time).

    A submitted token that is not ASCII is refused before any comparison: the tokens issued
    (:func:`new_csrf_token`, next-auth's) are hex, and a JSON body can carry a string with no
    byte spelling at all (a lone surrogate, ``"\\ud800"``)."""
    if not token or not isinstance(submitted, str) or not submitted or not submitted.isascii():
        return False
    return hmac.compare_digest(token.encode(), submitted.encode())
