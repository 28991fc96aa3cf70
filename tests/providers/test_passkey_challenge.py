"""The passkey challenge's cookie: encrypted, bound to one provider and action, used once (in
the store, so across workers with Redis)."""

from __future__ import annotations

import typing as t

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from flask_authguard.core.settings.config import resolve_options
from flask_authguard.core.tokens.jwt import encode
from flask_authguard.providers.passkey_challenge import (
    ChallengeFailed,
    challenge_cookie,
    clear_challenge,
    read_challenge,
)

SECRET = "challenge-secret-0123456789abcdef0123456789"


def request_with(cookie_header: str | None) -> Request:
    headers = {"Cookie": cookie_header} if cookie_header else {}
    return Request(EnvironBuilder(path="/api/auth/callback/passkey", headers=headers).get_environ())


def sent(set_cookie: str) -> str:
    """The ``Cookie`` header a browser sends back for ``set_cookie``."""
    return set_cookie.split(";", 1)[0]


@pytest.mark.parametrize("version", [4, 5])
def test_the_cookie_is_auth_js_s_and_holds_the_challenge_encrypted(version: int) -> None:
    config = resolve_options({"secret": SECRET, "version": version})
    header = challenge_cookie(config, "c-123", False, provider="passkey", action="authenticate")
    name = "next-auth.challenge" if version == 4 else "authjs.challenge"
    assert header.startswith(name + "=") and "HttpOnly" in header and "Max-Age=900" in header
    assert "c-123" not in header
    claims = read_challenge(
        config, request_with(sent(header)), False, provider="passkey", action="authenticate"
    )
    assert claims["challenge"] == "c-123"
    secure = challenge_cookie(config, "c", True, provider="passkey", action="authenticate")
    assert secure.startswith(f"__Host-{name}=") and "Secure" in secure and "Path=/" in secure
    assert clear_challenge(config, False).startswith(name + "=;")


@pytest.mark.parametrize(
    ("cookie", "provider", "action"),
    [
        pytest.param(None, "passkey", "authenticate", id="missing"),
        pytest.param("next-auth.challenge=garbage", "passkey", "authenticate", id="undecodable"),
        pytest.param("", "other", "authenticate", id="another-provider"),
        pytest.param("", "passkey", "register", id="another-action"),
    ],
)
def test_a_cookie_that_does_not_fit_fails(cookie: str | None, provider: str, action: str) -> None:
    config = resolve_options({"secret": SECRET})
    if cookie == "":
        cookie = sent(challenge_cookie(config, "c", False, provider="passkey", action="authenticate"))
    with pytest.raises(ChallengeFailed):
        read_challenge(config, request_with(cookie), False, provider=provider, action=action)


def test_another_secret_or_an_expired_cookie_fails() -> None:
    config = resolve_options({"secret": SECRET})
    other = resolve_options({"secret": "another-secret-0123456789abcdef0123456789"})
    cookie = sent(challenge_cookie(other, "c", False, provider="passkey", action="authenticate"))
    with pytest.raises(ChallengeFailed):
        read_challenge(config, request_with(cookie), False, provider="passkey", action="authenticate")
    expired = encode(
        token={"challenge": "c", "provider": "passkey", "action": "authenticate"},
        secret=SECRET,
        max_age=-3600,
        salt="next-auth.challenge",
    )
    with pytest.raises(ChallengeFailed, match="decoded"):
        read_challenge(
            config,
            request_with(f"next-auth.challenge={expired}"),
            False,
            provider="passkey",
            action="authenticate",
        )


def _reader(options: dict[str, t.Any]) -> t.Callable[[str], dict[str, t.Any]]:
    config = resolve_options({"secret": SECRET, **options})

    def read(cookie: str) -> dict[str, t.Any]:
        return read_challenge(config, request_with(cookie), False, provider="passkey", action="authenticate")

    return read


def test_a_challenge_is_used_once() -> None:
    read = _reader({})
    config = resolve_options({"secret": SECRET})
    cookie = sent(challenge_cookie(config, "once", False, provider="passkey", action="authenticate"))
    assert read(cookie)["challenge"] == "once"
    with pytest.raises(ChallengeFailed, match="used already"):
        read(cookie)


def test_a_challenge_is_used_once_across_workers(redis_store: dict[str, str]) -> None:
    # two apps with the same options, as two workers: the second sees the first one's use
    first, second = _reader(redis_store), _reader(redis_store)
    config = resolve_options({"secret": SECRET})
    cookie = sent(challenge_cookie(config, "shared", False, provider="passkey", action="authenticate"))
    assert first(cookie)["challenge"] == "shared"
    with pytest.raises(ChallengeFailed, match="used already"):
        second(cookie)
