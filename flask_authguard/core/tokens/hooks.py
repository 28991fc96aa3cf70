"""Ready-made ``jwt.decode`` hooks for tokens signed by another issuer, built on PyJWT.

next-auth reads its own encrypted tokens (JWE). When the session token is a signed JWT instead
(a next-auth app with a custom ``jwt.encode``, or an identity provider), give ``with_auth``,
``AuthGuard`` or ``get_token`` one of these as ``jwt.decode``:

.. code-block:: python

    from flask_authguard import with_auth
    from flask_authguard.core.tokens.hooks import hs256_decoder, jwks_decoder

    # next-auth's documented custom codec, ``jwt.sign(token, secret)`` / ``jwt.verify(token, secret)``
    # from ``jsonwebtoken``: key None verifies with the secret the middleware passes in.
    app = with_auth(app, options={"jwt": {"decode": hs256_decoder(None)}})

    # A shared HS256 key, with the claims you expect.
    decode = hs256_decoder("a-shared-key-of-32-bytes-or-more", audience="api", issuer="https://idp")

    # RS256/ES256 tokens of an identity provider, keys from its JWKS (fetched and cached).
    decode = jwks_decoder("https://idp.example.com/.well-known/jwks.json", audience="api")

Each hook is ``decode(*, token, secret)`` and returns the claims, or ``None`` for any token it
does not accept (bad signature, wrong key, an algorithm outside the list, ``alg: none``,
expired, not yet valid, wrong audience or issuer, garbage); it never raises. The reason goes to
the ``flask_authguard`` logger at debug level.

Rules, the same for both hooks:

- Time claims are checked against :func:`flask_authguard.core._clock.now` (so tests can freeze
  time): a token is expired once ``now >= exp + leeway`` and not yet valid while
  ``nbf > now + leeway`` (``jsonwebtoken``'s and jose's comparisons). ``exp``, ``nbf`` and
  ``iat``, when present, must be numbers. A future ``iat`` is accepted, as in jose.
- ``exp`` is required by default (``require=("exp",)``): a signed token without one would be
  valid forever. ``jsonwebtoken``'s ``jwt.sign(token, secret)`` without ``expiresIn`` issues
  such tokens; pass ``require=()`` to accept them.
- ``aud`` is checked only when you pass ``audience``; ``iss`` only when you pass ``issuer``
  (PyJWT would refuse any token carrying ``aud`` when no audience is given).

.. versionadded:: 0.1
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import typing as t
from urllib.parse import urlsplit

import jwt as pyjwt
from jwt import PyJWK, PyJWKClient, PyJWKSet
from jwt.algorithms import get_default_algorithms

from .. import _clock
from ..errors import ConfigurationError

__all__ = ["DecodeHook", "hs256_decoder", "jwks_decoder"]

logger = logging.getLogger("flask_authguard")

#: ``decode(*, token, secret)`` -> claims or ``None``: the shape of ``jwt.decode``.
DecodeHook = t.Callable[..., "dict[str, t.Any] | None"]

#: RFC 7518 3.2: an HS256 key must be at least as long as the hash (256 bits).
MIN_HMAC_KEY_BYTES = 32
#: Seconds between two fetches of a JWKS URL caused by an unknown ``kid`` or a failed fetch, so
#: that tokens with made-up key ids cannot turn every request into a request to the issuer.
MIN_REFETCH_SECONDS = 30.0

_ASYMMETRIC = frozenset(name for name in get_default_algorithms() if not name.startswith("HS")) - {"none"}


class _Refused(Exception):
    """A token this hook does not accept; the message is the reason for the log."""


def _claims_options(audience: t.Any, require: t.Sequence[str]) -> t.Any:
    # Time claims are ours (the project clock); PyJWT checks signature, aud, iss and presence.
    return {
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
        "verify_aud": audience is not None,
        "require": list(require),
    }


def _check_times(claims: t.Mapping[str, t.Any], leeway: float) -> None:
    for name in ("exp", "nbf", "iat"):
        if name in claims:
            value = claims[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise _Refused(f"{name} is not a number")
    now = _clock.now()
    if "exp" in claims and now - leeway >= claims["exp"]:
        raise _Refused("expired")
    if "nbf" in claims and claims["nbf"] > now + leeway:
        raise _Refused("not valid yet (nbf)")


def _check_common(
    audience: t.Any, issuer: t.Any, leeway: t.Any, require: t.Any
) -> tuple[float, tuple[str, ...]]:
    if isinstance(leeway, bool) or not isinstance(leeway, (int, float)) or not 0 <= leeway < math.inf:
        raise ConfigurationError(f"leeway must be a number of seconds >= 0, not {leeway!r}")
    if audience is not None and not isinstance(audience, str):
        if not isinstance(audience, t.Iterable) or not all(isinstance(a, str) for a in audience):
            raise ConfigurationError(f"audience must be a string or a list of strings, not {audience!r}")
    if issuer is not None and not isinstance(issuer, str):
        if not isinstance(issuer, t.Iterable) or not all(isinstance(i, str) for i in issuer):
            raise ConfigurationError(f"issuer must be a string or a list of strings, not {issuer!r}")
    if isinstance(require, str) or not all(isinstance(r, str) for r in require):
        raise ConfigurationError(f"require must be a list of claim names, not {require!r}")
    return float(leeway), tuple(require)


def _as_key_bytes(key: t.Any, where: str) -> bytes:
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, bytes) or not key:
        raise ConfigurationError(f"{where} must be a non-empty str or bytes")
    return key


def hs256_decoder(
    key: str | bytes | None,
    *,
    audience: str | t.Sequence[str] | None = None,
    issuer: str | t.Sequence[str] | None = None,
    leeway: float = 0,
    require: t.Sequence[str] = ("exp",),
) -> DecodeHook:
    """A ``jwt.decode`` hook for JWTs signed with HS256 and a shared key.

    :param key: the shared key; ``None`` verifies with the ``secret`` the hook is called with
        (next-auth's secret; with a list of secrets, each is tried), which is the Python form of
        next-auth's ``jwt.verify(token, secret)`` example.
    :param audience: when given, ``aud`` must contain it (or one of them).
    :param issuer: when given, ``iss`` must equal it (or one of them).
    :param leeway: seconds of clock skew tolerated on ``exp`` and ``nbf`` (jose's default: 0).
    :param require: claims that must be present.
    :returns: ``decode(*, token, secret)``: the claims, or ``None``; never raises.
    :raises ConfigurationError: an argument is invalid.
    """
    fixed = None if key is None else _as_key_bytes(key, "key")
    if fixed is not None and len(fixed) < MIN_HMAC_KEY_BYTES:
        logger.warning("hs256_decoder: the key is shorter than %d bytes (RFC 7518)", MIN_HMAC_KEY_BYTES)
    tolerance, required = _check_common(audience, issuer, leeway, require)
    options = _claims_options(audience, required)

    def decode(*, token: t.Any, secret: t.Any = None, **_: t.Any) -> dict[str, t.Any] | None:
        try:
            _header(token)
            keys = [fixed] if fixed is not None else _secret_keys(secret)
            verify = functools.partial(
                pyjwt.decode, token, algorithms=["HS256"], audience=audience, issuer=issuer, options=options
            )
            return _first_verified(verify, keys, tolerance, "signature does not match the key")
        except Exception as exc:  # a hook never raises: any failure is "no token"
            _log_refusal("hs256_decoder", exc)
            return None

    return decode


def _header(token: t.Any) -> dict[str, t.Any]:
    """The unverified header of a token both hooks accept the shape of.

    No header extension is understood here, so a ``crit`` header is refused (RFC 7515,
    4.1.11); checked here because older PyJWT releases let it through.
    """
    if not isinstance(token, str) or not token:
        raise _Refused("not a string")
    header: dict[str, t.Any] = pyjwt.get_unverified_header(token)
    if "crit" in header:
        raise _Refused("crit header: extensions are not understood")
    return header


def _first_verified(
    verify: t.Callable[[t.Any], dict[str, t.Any]], keys: t.Iterable[t.Any], tolerance: float, refusal: str
) -> dict[str, t.Any]:
    """The claims under the first key whose signature checks, with the time claims checked."""
    for key in keys:
        try:
            claims = verify(key)
        except pyjwt.InvalidSignatureError:
            continue
        _check_times(claims, tolerance)
        return claims
    raise _Refused(refusal)


def _secret_keys(secret: t.Any) -> list[bytes]:
    if isinstance(secret, (str, bytes)):
        secrets: t.Sequence[t.Any] = [secret]
    elif isinstance(secret, t.Sequence):
        secrets = secret
    else:
        raise _Refused("no key: hs256_decoder(None) needs a secret")
    keys = [s.encode("utf-8") if isinstance(s, str) else s for s in secrets]
    if not keys or not all(isinstance(k, bytes) and k for k in keys):
        raise _Refused("no key: hs256_decoder(None) needs a secret")
    return keys


def _log_refusal(hook: str, exc: Exception) -> None:
    reason = str(exc) if isinstance(exc, _Refused) else type(exc).__name__
    logger.debug("%s: token refused: %s", hook, reason)


class _KeySet:
    """The signing keys of a JWKS: a fixed dict, or a URL fetched with PyJWKClient and cached.

    Cached keys are used for ``cache_seconds``; after that the next token refetches them. An
    unknown ``kid`` refetches too (a rotated key), and so does a failed fetch, but each at most
    once per :data:`MIN_REFETCH_SECONDS` (at most ``cache_seconds``). A failed fetch keeps the
    keys already known; while one thread fetches, the others go on with them.
    """

    def __init__(self, source: str | t.Mapping[str, t.Any], cache_seconds: float, timeout: float) -> None:
        self._lock = threading.Lock()
        self._cache_seconds = cache_seconds
        self._refetch_seconds = min(MIN_REFETCH_SECONDS, cache_seconds)
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf
        self._client: PyJWKClient | None = None
        self._keys: list[PyJWK] | None = None
        if isinstance(source, str):
            if urlsplit(source).scheme.lower() not in ("http", "https") or not urlsplit(source).netloc:
                raise ConfigurationError(f"jwks_decoder: the JWKS URL must be http(s)://..., not {source!r}")
            self._client = PyJWKClient(source, cache_jwk_set=False, timeout=timeout)
        else:
            try:
                self._keys = _signing_keys(source)
            except Exception as exc:
                raise ConfigurationError(f"jwks_decoder: the JWKS has no usable signing key: {exc}") from None

    def candidates(self, kid: str | None, alg: str) -> list[PyJWK]:
        """The keys that may have signed a token with header ``kid`` and ``alg``."""
        if self._client is None:
            return _select(self._keys or [], kid, alg)
        now = _clock.now()
        if self._keys is None or now - self._fetched_at >= self._cache_seconds:
            self._refresh(now, stale_ok=self._keys is not None)
        found = _select(self._keys or [], kid, alg)
        if not found and kid is not None and self._keys is not None:
            self._refresh(now, stale_ok=False)
            found = _select(self._keys or [], kid, alg)
        return found

    def _refresh(self, now: float, *, stale_ok: bool) -> None:
        if not self._lock.acquire(blocking=not stale_ok):
            return  # another thread is fetching; the keys we have will do meanwhile
        try:
            if now - self._attempted_at < self._refetch_seconds:
                return  # fetched (or failed) a moment ago: do not hammer the issuer
            self._attempted_at = _clock.now()
            assert self._client is not None
            try:
                keys = _signing_keys(self._client.fetch_data())
            except Exception as exc:  # an unreachable issuer is "no new keys"
                logger.warning("jwks_decoder: could not fetch %s: %s", self._client.uri, exc)
                return
            self._keys = keys
            self._fetched_at = self._attempted_at
        finally:
            self._lock.release()


def _signing_keys(jwks: t.Any) -> list[PyJWK]:
    if not isinstance(jwks, t.Mapping):
        raise ValueError("not a JSON object")
    keys = [
        key
        for key in PyJWKSet.from_dict(dict(jwks)).keys
        if key.public_key_use in ("sig", None) and key.algorithm_name in _ASYMMETRIC
    ]
    if not keys:
        raise ValueError("no public signing key")
    return keys


def _select(keys: list[PyJWK], kid: str | None, alg: str) -> list[PyJWK]:
    return [k for k in keys if k.algorithm_name == alg and (kid is None or k.key_id == kid)]


def jwks_decoder(
    jwks_url_or_keys: str | t.Mapping[str, t.Any],
    *,
    algorithms: t.Sequence[str] = ("RS256", "ES256"),
    audience: str | t.Sequence[str] | None = None,
    issuer: str | t.Sequence[str] | None = None,
    cache_seconds: float = 300,
    leeway: float = 0,
    require: t.Sequence[str] = ("exp",),
    timeout: float = 5,
) -> DecodeHook:
    """A ``jwt.decode`` hook for JWTs signed with an asymmetric key published in a JWKS.

    The token's ``kid`` header picks the key (without ``kid``, every key of the token's
    algorithm is tried); the key's algorithm (its ``alg``, else what its type and curve imply)
    must equal the token's, and must be in ``algorithms``.

    :param jwks_url_or_keys: the JWKS URL (``http(s)://``, fetched with PyJWT's
        :class:`~jwt.PyJWKClient` on first use), or the JWKS itself as a dict
        ``{"keys": [...]}`` (offline use, tests).
    :param algorithms: accepted algorithms; symmetric ones (``HS*``) and ``none`` are refused.
    :param audience: when given, ``aud`` must contain it (or one of them).
    :param issuer: when given, ``iss`` must equal it (or one of them).
    :param cache_seconds: how long fetched keys are used before they are fetched again.
    :param leeway: seconds of clock skew tolerated on ``exp`` and ``nbf``.
    :param require: claims that must be present.
    :param timeout: seconds to wait for the JWKS URL.
    :returns: ``decode(*, token, secret)``: the claims, or ``None``; never raises. ``secret``
        is ignored.
    :raises ConfigurationError: an argument is invalid, or the JWKS dict has no usable key.
    """
    if isinstance(algorithms, str) or not algorithms:
        raise ConfigurationError(f"algorithms must be a non-empty list, not {algorithms!r}")
    refused = [a for a in algorithms if a not in _ASYMMETRIC]
    if refused:
        raise ConfigurationError(
            f"algorithms: {', '.join(map(repr, refused))} not allowed; "
            f"use asymmetric ones ({', '.join(sorted(_ASYMMETRIC))})"
        )
    for name, value in (("cache_seconds", cache_seconds), ("timeout", timeout)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
            raise ConfigurationError(f"{name} must be a number of seconds >= 0, not {value!r}")
    if not isinstance(jwks_url_or_keys, (str, t.Mapping)):
        raise ConfigurationError(
            f"jwks_decoder needs a JWKS URL or a JWKS dict {{'keys': [...]}}, not {jwks_url_or_keys!r}"
        )
    tolerance, required = _check_common(audience, issuer, leeway, require)
    options = _claims_options(audience, required)
    allowed = frozenset(algorithms)
    keyset = _KeySet(jwks_url_or_keys, float(cache_seconds), float(timeout))

    def decode(*, token: t.Any, secret: t.Any = None, **_: t.Any) -> dict[str, t.Any] | None:
        try:
            header = _header(token)
            alg, kid = header.get("alg"), header.get("kid")
            if not isinstance(alg, str) or alg not in allowed:
                raise _Refused(f"algorithm {alg!r} not accepted")
            if kid is not None and not isinstance(kid, str):
                raise _Refused("kid is not a string")
            verify = functools.partial(
                pyjwt.decode, token, algorithms=[alg], audience=audience, issuer=issuer, options=options
            )
            keys = [key.key for key in keyset.candidates(kid, alg)]
            return _first_verified(verify, keys, tolerance, "no key of the JWKS verifies it")
        except Exception as exc:  # a hook never raises: any failure is "no token"
            _log_refusal("jwks_decoder", exc)
            return None

    return decode
