"""The verified-token cache behind ``decode``: a hit is as good as a decryption, never better."""

from __future__ import annotations

import threading
import typing as t

import pytest

from flask_authguard.core.errors import InvalidTokenError, TokenExpiredError
from flask_authguard.core.tokens import jwt as jwt_mod
from flask_authguard.core.tokens.jwt import VerifiedTokenCache, decode, encode

SECRET = "cache-secret-0123456789abcdef0123456789abcdef"


@pytest.fixture
def decrypts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Tokens that reached the real decryption, in order."""
    seen: list[str] = []
    real = jwt_mod.decrypt

    def counting(**kwargs: t.Any) -> dict[str, t.Any]:
        seen.append(kwargs["token"])
        return real(**kwargs)

    monkeypatch.setattr(jwt_mod, "decrypt", counting)
    monkeypatch.setattr(jwt_mod.verified_tokens, "maxsize", 8)
    jwt_mod.verified_tokens.clear()
    return seen


def test_a_repeat_decode_skips_decryption(frozen_clock: t.Any, decrypts: list[str]) -> None:
    token = encode(token={"sub": "u1"}, secret=SECRET)
    first = decode(token=token, secret=SECRET)
    second = decode(token=token, secret=SECRET)
    assert first == second and first is not None and first["sub"] == "u1"
    assert decrypts == [token]


def test_secrets_as_a_list_or_a_tuple_share_one_entry(frozen_clock: t.Any, decrypts: list[str]) -> None:
    """The tuple of secrets sessions pass is its own key part; a list is made a tuple, so
    both spellings of the same secrets find the same entry, and other secrets do not."""

    class Secrets(tuple):  # type: ignore[type-arg]
        """A tuple subclass: made a plain tuple for the key, like any other sequence."""

    token = encode(token={"sub": "u1"}, secret=SECRET)
    assert decode(token=token, secret=(SECRET, "older-secret-0123456789abcdef0123"))
    assert decode(token=token, secret=[SECRET, "older-secret-0123456789abcdef0123"])
    assert decode(token=token, secret=Secrets((SECRET, "older-secret-0123456789abcdef0123")))
    assert decrypts == [token]
    assert decode(token=token, secret=(SECRET,))
    assert decrypts == [token, token]


def test_expiry_is_checked_on_every_hit(frozen_clock: t.Any, decrypts: list[str]) -> None:
    token = encode(token={"sub": "u1"}, secret=SECRET, max_age=60)
    assert decode(token=token, secret=SECRET) is not None
    frozen_clock.now += 60 + 15
    with pytest.raises(TokenExpiredError):
        decode(token=token, secret=SECRET)
    assert len(jwt_mod.verified_tokens) == 0  # the expired entry is gone


@pytest.mark.parametrize(
    ("secret", "salt", "version"),
    [
        pytest.param("another-secret-0123456789abcdef0123456789", "", 4, id="other-secret"),
        pytest.param(SECRET, "next-auth.state", 4, id="other-salt"),
    ],
)
def test_another_key_never_hits(
    frozen_clock: t.Any, decrypts: list[str], secret: str, salt: str, version: int
) -> None:
    token = encode(token={"sub": "u1"}, secret=SECRET)
    assert decode(token=token, secret=SECRET) is not None
    with pytest.raises(InvalidTokenError):
        decode(token=token, secret=secret, salt=salt, version=version)
    assert decrypts == [token, token]


def test_failures_are_not_cached(frozen_clock: t.Any, decrypts: list[str]) -> None:
    token = encode(token={"sub": "u1"}, secret=SECRET)
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    for _ in range(2):
        with pytest.raises(InvalidTokenError):
            decode(token=tampered, secret=SECRET)
    assert decrypts == [tampered, tampered]
    assert len(jwt_mod.verified_tokens) == 0


def test_callers_get_independent_copies(frozen_clock: t.Any, decrypts: list[str]) -> None:
    token = encode(token={"sub": "u1", "groups": ["a"], "meta": {"k": 1}}, secret=SECRET)
    first = decode(token=token, secret=SECRET)
    assert first is not None
    first["sub"] = "mallory"
    first["groups"].append("admin")
    first["meta"]["k"] = 2
    again = decode(token=token, secret=SECRET)
    assert again == {**again, "sub": "u1", "groups": ["a"], "meta": {"k": 1}}


def test_the_cache_is_bounded(frozen_clock: t.Any, decrypts: list[str]) -> None:
    tokens = [encode(token={"sub": str(i)}, secret=SECRET) for i in range(20)]
    for token in tokens:
        decode(token=token, secret=SECRET)
    assert len(jwt_mod.verified_tokens) == 8
    decode(token=tokens[0], secret=SECRET)  # long evicted: decrypted again
    assert decrypts.count(tokens[0]) == 2


def test_long_tokens_are_not_kept(frozen_clock: t.Any, decrypts: list[str]) -> None:
    jwt_mod.verified_tokens.max_token_length = 100
    token = encode(token={"sub": "u1"}, secret=SECRET)
    decode(token=token, secret=SECRET)
    assert len(jwt_mod.verified_tokens) == 0


def test_concurrent_use_is_safe(frozen_clock: t.Any, decrypts: list[str]) -> None:
    tokens = [encode(token={"sub": str(i)}, secret=SECRET) for i in range(30)]
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            for i in range(300):
                token = tokens[(i + offset) % len(tokens)]
                claims = decode(token=token, secret=SECRET)
                assert claims is not None and claims["sub"] == str((i + offset) % len(tokens))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(jwt_mod.verified_tokens) <= 8


def test_hits_check_the_clock_as_the_full_check_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from flask_authguard.core import _clock

    misses: list[str] = []

    def verify(token: str, secrets: tuple[str, ...], salt: str, version: int) -> dict[str, t.Any]:
        misses.append(token)
        raise InvalidTokenError("not kept")

    cache = VerifiedTokenCache(verify, maxsize=8)
    now = 1_700_000_000.0
    monkeypatch.setattr(_clock, "now", lambda: now)

    def put(token: str, claims: dict[str, t.Any]) -> None:
        cache.put((token, 4, "", ("s",)), claims)

    def claims(token: str) -> dict[str, t.Any]:
        return cache.claims(token, ("s",), "", 4)

    put("a", {"sub": "1", "exp": now + 10, "nbf": now + 5, "tags": ["x"]})
    put("b", {"sub": "2"})  # no exp: only a direct put() makes such an entry
    put("c", {"sub": "3", "exp": now + 100, "nbf": now + 20})
    got = claims("a")
    assert got == {"sub": "1", "exp": now + 10, "nbf": now + 5, "tags": ["x"]}
    got["tags"].append("y")  # a fresh copy: the next hit is untouched
    assert claims("a") == {"sub": "1", "exp": now + 10, "nbf": now + 5, "tags": ["x"]}
    with pytest.raises(InvalidTokenError, match="exp claim missing"):
        claims("b")
    with pytest.raises(InvalidTokenError, match="not valid yet"):
        claims("c")
    assert misses == []
    with pytest.raises(InvalidTokenError, match="not kept"):
        claims("c")  # refused entries are dropped: verified again
    assert misses == ["c"]
    now += 10 + jwt_mod.CLOCK_TOLERANCE
    with pytest.raises(TokenExpiredError):
        claims("a")
    with pytest.raises(InvalidTokenError, match="not kept"):
        claims("a")
    assert misses == ["c", "a"]
