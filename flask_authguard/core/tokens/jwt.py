"""The session token codec: next-auth v4 and Auth.js v5 compact JWE.

next-auth v4 issues ``{"alg":"dir","enc":"A256GCM"}`` tokens under a key derived with
HKDF-SHA256 (info ``NextAuth.js Generated Encryption Key``, empty salt). Auth.js v5 issues
``{"alg":"dir","enc":"A256CBC-HS512","kid":...}`` tokens, salted with the session cookie name.

.. code-block:: python

    from flask_authguard import encode, decode

    token = encode(token={"sub": "42"}, secret="s3cret")
    claims = decode(token=token, secret="s3cret")

Decoding is deliberately stricter than next-auth's: only the algorithms the two versions issue,
canonical unpadded base64url, a UTF-8 JSON object as plaintext, ``exp`` required, no ``zip`` or
``crit``. The cryptography is ``cryptography``'s; only the compact envelope is written here.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import os
import typing as t

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import ConfigurationError, InvalidTokenError
from .cache import VerifiedTokenCache
from .cbc_hs512 import cbc_key
from .claims import CLOCK_TOLERANCE, JSON_DECODER, check_claims, claims_json

__all__ = [
    "CLOCK_TOLERANCE",
    "DEFAULT_MAX_AGE",
    "MAX_TOKEN_LENGTH",
    "Secret",
    "VerifiedTokenCache",
    "b64url_decode",
    "b64url_encode",
    "decode",
    "decrypt",
    "decrypt_and_check",
    "derive_key",
    "encode",
    "key_thumbprint",
    "verified_claims",
    "verified_tokens",
]

#: Default lifetime of an issued token, in seconds (30 days, as next-auth).
DEFAULT_MAX_AGE = 30 * 24 * 60 * 60
#: Longest token accepted; anything longer is refused before any work (16 cookie chunks).
MAX_TOKEN_LENGTH = 64 * 1024

Secret = str | t.Sequence[str]

_V4_INFO = "NextAuth.js Generated Encryption Key"
_V5_INFO = "Auth.js Generated Encryption Key"
_GCM = "A256GCM"
_CBC = "A256CBC-HS512"
_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_V4_HEADER_KEYS = frozenset({"alg", "enc"})
_V5_HEADER_KEYS = frozenset({"alg", "enc", "kid"})
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url, as JOSE writes it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode canonical unpadded base64url; anything else raises :exc:`InvalidTokenError`.

    Canonical means: only the URL-safe alphabet, no padding, and zero trailing bits, so that
    every byte string has exactly one accepted spelling.
    """
    try:
        raw = text.encode("ascii")
    except (UnicodeEncodeError, AttributeError):
        raise InvalidTokenError("segment is not base64url") from None
    rest = len(raw) % 4
    if rest == 1 or raw.translate(None, _B64URL_ALPHABET):
        raise InvalidTokenError("segment is not base64url")
    # The unused low bits of the last character must be zero (RFC 4648, section 3.5).
    if rest and _B64URL_ALPHABET.index(raw[-1]) & (0x0F if rest == 2 else 0x03):
        raise InvalidTokenError("segment is not canonical base64url")
    # The alphabet is checked above, so the C decoder sees only valid standard base64.
    return binascii.a2b_base64(raw.translate(_TO_STANDARD) + b"=" * (-rest % 4))


#: The protected header of every v4 token, base64url (and its bytes, the AAD).
_V4_HEADER = b64url_encode(b'{"alg":"dir","enc":"A256GCM"}')
_V4_HEADER_BYTES = _V4_HEADER.encode("ascii")


def _secrets(secret: Secret) -> tuple[str, ...]:
    secrets = (secret,) if isinstance(secret, str) else tuple(secret)
    if not secrets or any(not isinstance(s, str) or not s for s in secrets):
        raise ConfigurationError(
            "a secret is required: set NEXTAUTH_SECRET (or AUTH_SECRET), or pass secret=..."
        )
    return secrets


@functools.lru_cache(maxsize=256)
def derive_key(secret: str, salt: str = "", *, version: int = 4, length: int = 32) -> bytes:
    """The content-encryption key next-auth (v4) or Auth.js (v5) derives from a secret.

    Results are cached, so no request ever re-derives a key.

    :param secret: the shared secret.
    :param salt: ``""`` for v4 session tokens; the session cookie name for v5.
    :param version: 4 or 5.
    :param length: 32 bytes (A256GCM) or 64 (A256CBC-HS512).
    """
    if not secret:
        raise ConfigurationError("a non-empty secret is required to derive a key")
    if version == 4:
        info = f"{_V4_INFO} ({salt})" if salt else _V4_INFO
    else:
        info = f"{_V5_INFO} ({salt})"
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt.encode(), info=info.encode())
    return hkdf.derive(secret.encode())


@functools.lru_cache(maxsize=256)
def key_thumbprint(key: bytes) -> str:
    """RFC 7638 thumbprint of the symmetric JWK, Auth.js's ``kid`` (SHA-512 for 64-byte keys)."""
    jwk = json.dumps({"k": b64url_encode(key), "kty": "oct"}, separators=(",", ":"))
    digest = hashlib.sha512 if len(key) == 64 else hashlib.sha256
    return b64url_encode(digest(jwk.encode()).digest())


@functools.lru_cache(maxsize=64)
def _aesgcm(key: bytes) -> AESGCM:
    return AESGCM(key)


@functools.lru_cache(maxsize=64)
def _v5_header(key: bytes) -> str:
    """The protected header (base64url) of the v5 tokens ``key`` issues: the same for every one."""
    header_json = json.dumps({"alg": "dir", "enc": _CBC, "kid": key_thumbprint(key)}, separators=(",", ":"))
    return b64url_encode(header_json.encode())


def encode(
    *,
    token: t.Mapping[str, t.Any],
    secret: Secret,
    max_age: float = DEFAULT_MAX_AGE,
    salt: str = "",
    version: int = 4,
) -> str:
    """Encrypt claims into a session token next-auth (or Auth.js) accepts.

    ``iat``, ``exp`` (``iat + max_age``) and a random ``jti`` are set, overwriting any
    the caller gave.

    :param token: the claims, a JSON-serialisable mapping.
    :param secret: a secret, or a list of them (the first encodes).
    :param max_age: seconds until ``exp``.
    :param salt: v5 only: the session cookie name (default ``authjs.session-token``).
    :param version: 4 for next-auth v4 (default), 5 for Auth.js v5.
    :raises ConfigurationError: no secret.
    :raises ValueError: claims that are not JSON.
    """
    first = _secrets(secret)[0]
    salt = salt or ""
    plaintext = claims_json(token, max_age)
    if version == 4:
        header = _V4_HEADER
        iv = os.urandom(12)
        sealed = _aesgcm(derive_key(first, salt)).encrypt(iv, plaintext, _V4_HEADER_BYTES)
        ciphertext, tag = sealed[:-16], sealed[-16:]
    elif version == 5:
        key = derive_key(first, salt or "authjs.session-token", version=5, length=64)
        header = _v5_header(key)
        iv, ciphertext, tag = cbc_key(key).seal(header.encode("ascii"), plaintext)
    else:
        raise ConfigurationError(f"version must be 4 or 5, not {version!r}")
    return ".".join((header, "", b64url_encode(iv), b64url_encode(ciphertext), b64url_encode(tag)))


class _Parts(t.NamedTuple):
    header_b64: str
    enc: str
    kid: str | None
    iv: bytes
    ciphertext: bytes
    tag: bytes


@functools.lru_cache(maxsize=64)
def _checked_header(header_b64: str, version: int) -> tuple[str, str | None]:
    """``(enc, kid)`` of an accepted protected header. Cached: a session's header never changes,
    and only accepted headers are kept (a refusal raises, which is never cached)."""
    try:
        # Decode as UTF-8 first: json.loads(bytes) would also sniff UTF-16/32.
        header = JSON_DECODER.decode(b64url_decode(header_b64).decode("utf-8"))
    except (ValueError, RecursionError):
        raise InvalidTokenError("header is not JSON") from None
    if not isinstance(header, dict):
        raise InvalidTokenError("header is not a JSON object")
    allowed = _V4_HEADER_KEYS if version == 4 else _V5_HEADER_KEYS
    if not set(header) <= allowed:
        raise InvalidTokenError(f"unexpected header members for a v{version} token")
    enc = header.get("enc")
    encs = (_GCM,) if version == 4 else (_CBC, _GCM)
    if header.get("alg") != "dir" or enc not in encs:
        hint = " (a v5 token read as v4?)" if version == 4 and enc == _CBC else ""
        raise InvalidTokenError(f"algorithm not accepted for a v{version} token{hint}")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise InvalidTokenError("kid is not a string")
    return t.cast(str, enc), kid


def _parse(token: str, version: int) -> _Parts:
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidTokenError("token is too long")
    parts = token.split(".")
    if len(parts) != 5:
        raise InvalidTokenError("not a compact JWE (five segments)")
    header_b64, encrypted_key, iv_b64, ct_b64, tag_b64 = parts
    enc, kid = _checked_header(header_b64, version)
    if encrypted_key:
        raise InvalidTokenError("dir tokens carry no encrypted key")
    iv, ciphertext, tag = b64url_decode(iv_b64), b64url_decode(ct_b64), b64url_decode(tag_b64)
    iv_len, tag_len = (12, 16) if enc == _GCM else (16, 32)
    if len(iv) != iv_len or len(tag) != tag_len:
        raise InvalidTokenError("wrong IV or tag length")
    return _Parts(header_b64, enc, kid, iv, ciphertext, tag)


def _decrypt(parts: _Parts, key: bytes) -> bytes | None:
    aad = parts.header_b64.encode("ascii")
    if parts.enc == _GCM:
        try:
            return _aesgcm(key).decrypt(parts.iv, parts.ciphertext + parts.tag, aad)
        except InvalidTag:
            return None
    # The tag is verified before the padding is looked at (no padding oracle).
    return cbc_key(key).open(aad, parts.iv, parts.ciphertext, parts.tag)


@functools.lru_cache(maxsize=64)
def _v5_keys(secrets: tuple[str, ...], salt: str, length: int) -> tuple[bytes, dict[str, list[bytes]]]:
    """Auth.js keys derived once per salt (the cookie name): the newest secret's key, and the
    keys by ``kid`` (a key's public thumbprint, in every token it issues), in secret order."""
    by_kid: dict[str, list[bytes]] = {}
    keys = [derive_key(s, salt, version=5, length=length) for s in secrets]
    for key in keys:
        by_kid.setdefault(key_thumbprint(key), []).append(key)
    return keys[0], by_kid


#: v4, per secrets/salt/version/enc: the index of the secret that verified a token last. It is tried
#: first (after a rotation, most tokens are still signed by the same, older secret); the others
#: follow in order. Only the order of the attempts changes: a key either opens a token or not.
_last_good: dict[tuple[tuple[str, ...], str, int, str], int] = {}


def _candidate_keys(parts: _Parts, secrets: tuple[str, ...], salt: str, version: int) -> list[bytes]:
    if version == 4:
        keys = [derive_key(s, salt) for s in secrets]  # cached: no request derives a key
        last = _last_good.get((secrets, salt, version, parts.enc), 0) if len(keys) > 1 else 0
        if 0 < last < len(keys):
            keys.insert(0, keys.pop(last))
        return keys
    newest, by_kid = _v5_keys(secrets, salt, 64 if parts.enc == _CBC else 32)
    if parts.kid is None:
        return [newest]  # Auth.js tries a token without kid with the newest secret only
    return list(by_kid.get(parts.kid, ()))  # v5: the kid picks the key, nothing to remember


def _remember(parts: _Parts, secrets: tuple[str, ...], salt: str, version: int, index: int) -> None:
    if len(_last_good) > 64:
        _last_good.clear()  # bounded: a handful of configurations per process
    key = (secrets, salt, version, parts.enc)
    # ``index`` counts in the reordered list; store it in the configured order.
    last = _last_good.get(key, 0)
    order = list(range(len(secrets)))
    if 0 < last < len(order):
        order.insert(0, order.pop(last))
    _last_good[key] = order[index] if index < len(order) else 0


def decrypt(*, token: str, secret: Secret, salt: str = "", version: int = 4) -> dict[str, t.Any]:
    """Decrypt a session token and parse its claims, without checking ``exp``/``nbf``.

    For tools that explain a refusal (the CLI); sessions go through :func:`decode`.

    :raises InvalidTokenError: malformed, tampered, or made with another key.
    :raises ConfigurationError: no secret, or a v5 token without a salt.
    """
    salt = salt or ""
    if not isinstance(token, str):
        raise InvalidTokenError("token is not a string")
    if version not in (4, 5):
        raise ConfigurationError(f"version must be 4 or 5, not {version!r}")
    if version == 5 and not salt:
        raise ConfigurationError("v5 tokens need salt=<the session cookie name>")
    secrets = _secrets(secret)
    parts = _parse(token, version)
    plaintext = None
    for index, key in enumerate(_candidate_keys(parts, secrets, salt, version)):
        plaintext = _decrypt(parts, key)
        if plaintext is not None:
            if index and version == 4:
                _remember(parts, secrets, salt, version, index)
            break
    if plaintext is None:
        raise InvalidTokenError("decryption failed (wrong secret, salt or version, or tampered)")
    try:
        claims = JSON_DECODER.decode(plaintext.decode("utf-8"))
    except (ValueError, RecursionError):
        raise InvalidTokenError("plaintext is not UTF-8 JSON") from None
    if not isinstance(claims, dict):
        raise InvalidTokenError("plaintext is not a JSON object")
    return claims


def decode(*, token: str | None, secret: Secret, salt: str = "", version: int = 4) -> dict[str, t.Any] | None:
    """Decrypt and check a session token.

    A token verified before under the same secrets, salt and version is answered from
    :data:`verified_tokens` (its ``exp`` and ``nbf`` checked again) without decrypting it again.

    :param token: the compact JWE; ``None`` or ``""`` returns ``None``.
    :param secret: a secret, or a list of them tried in turn (v5: chosen by ``kid``).
    :param salt: v4: ``""`` for session tokens; v5: the session cookie name (required).
    :param version: 4 (next-auth v4, default) or 5 (Auth.js v5).
    :returns: the claims, or ``None`` for an empty token.
    :raises InvalidTokenError: malformed, tampered, or made with another key.
    :raises TokenExpiredError: past ``exp`` plus the 15 s tolerance.
    :raises ConfigurationError: no secret, or a v5 decode without a salt.
    """
    if not token:
        return None
    if not isinstance(token, str):
        raise InvalidTokenError("token is not a string")
    secrets = secret if type(secret) is tuple else _secrets(secret)
    return verified_claims(token, secrets, salt or "", version)


def decrypt_and_check(token: str, secrets: tuple[str, ...], salt: str, version: int) -> dict[str, t.Any]:
    """The claims of ``token``, decrypted and checked (``exp``, ``nbf``, ``iat``): what
    :data:`verified_tokens` keeps.

    :raises TokenError: as :func:`decode`.
    """
    claims = decrypt(token=token, secret=secrets, salt=salt, version=version)
    check_claims(claims)
    return claims


#: The process-wide cache :func:`decode` and the session readers use; ``verified_tokens.maxsize
#: = 0`` turns it off.
verified_tokens = VerifiedTokenCache(decrypt_and_check)

#: :func:`decode` for a token string and a tuple of secrets, the form every reader of the session
#: cookie has them in: ``verified_claims(token, secrets, salt, version)``, the claims of a token
#: verified before under the same secrets, salt and version from :data:`verified_tokens`, else
#: decrypted and checked now (and kept). Raises :class:`~flask_authguard.core.errors.TokenError`
#: as :func:`decode`.
verified_claims = verified_tokens.claims
