"""``get_token``: where the token comes from, the Bearer rules, decode hooks, v5, secrets."""

from __future__ import annotations

import logging
import types
import typing as t

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.properties import BOUNDED, HEADER_CHARS
from werkzeug.test import create_environ
from werkzeug.wrappers import Request

from flask_authguard import encode, get_token
from flask_authguard.core.tokens.jwt import MAX_TOKEN_LENGTH, derive_key
from flask_authguard.core.tokens.request_token import request_cookies

SECRET = "token-test-secret-0123456789abcdef"
OTHER = "token-test-other-secret-fedcba9876543210"
V4_NAME = "next-auth.session-token"
V5_NAME = "authjs.session-token"


def environ_with(
    cookie: str | None = None, *, scheme: str = "http", authorization: str | None = None
) -> dict:
    environ = create_environ("/api/data", f"{scheme}://localhost:3000")
    if cookie is not None:
        environ["HTTP_COOKIE"] = cookie
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    return environ


@pytest.fixture
def token(frozen_clock: t.Any) -> str:
    return encode(token={"sub": "u1", "role": "admin"}, secret=SECRET, max_age=3600)


# --------------------------------------------------------------------------- inputs


def test_reads_an_environ_and_a_werkzeug_request(token: str) -> None:
    environ = environ_with(f"theme=dark; {V4_NAME}={token}")
    assert get_token(environ, secret=SECRET)["sub"] == "u1"
    assert get_token(Request(environ_with(f"{V4_NAME}={token}")), secret=SECRET)["role"] == "admin"


def test_anything_else_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        get_token("not a request", secret=SECRET)  # type: ignore[arg-type]


def test_raw_returns_the_value_unchecked_and_joins_chunks(token: str) -> None:
    assert get_token(environ_with(f"{V4_NAME}=garbage"), raw=True) == "garbage"  # no secret needed
    half = len(token) // 2
    chunked = f"{V4_NAME}.1={token[half:]}; {V4_NAME}.0={token[:half]}"
    assert get_token(environ_with(chunked), raw=True) == token
    assert get_token(environ_with(chunked), secret=SECRET)["sub"] == "u1"
    assert get_token(environ_with(), raw=True) is None
    assert get_token(environ_with(f"{V4_NAME}="), raw=True) is None


def test_absent_expired_tampered_or_foreign_tokens_are_none(token: str, frozen_clock: t.Any) -> None:
    assert get_token(environ_with(), secret=SECRET) is None
    assert get_token(environ_with(f"{V4_NAME}={token[:-2]}"), secret=SECRET) is None
    assert get_token(environ_with(f"{V4_NAME}={token}"), secret=OTHER) is None
    frozen_clock.now += 3600 + 15
    assert get_token(environ_with(f"{V4_NAME}={token}"), secret=SECRET) is None


def test_secret_rotation(token: str) -> None:
    assert get_token(environ_with(f"{V4_NAME}={token}"), secret=[OTHER, SECRET])["sub"] == "u1"


# --------------------------------------------------------------------------- Bearer


@pytest.mark.parametrize(
    ("header", "found"),
    [
        pytest.param("Bearer {t}", True, id="exact"),
        pytest.param("Bearer {t} trailing words", True, id="second-word-only"),
        pytest.param("Bearer {pct}", True, id="percent-decoded"),
        pytest.param("bearer {t}", False, id="lowercase-scheme"),
        pytest.param("BEARER {t}", False, id="uppercase-scheme"),
        pytest.param("Bearer  {t}", False, id="two-spaces"),
        pytest.param("Bearer\t{t}", False, id="tab"),
        pytest.param(" Bearer {t}", False, id="leading-space"),
        pytest.param("Token {t}", False, id="other-scheme"),
        pytest.param("Bearer", False, id="scheme-only"),
        pytest.param("Bearer ", False, id="empty-token"),
        pytest.param("Bearer {t}%", False, id="malformed-escape-percent"),
        pytest.param("Bearer {t}%A", False, id="malformed-escape-short"),
        pytest.param("Bearer {t}%ZZ", False, id="malformed-escape-not-hex"),
        pytest.param("Bearer abc%E0%A4%A", False, id="malformed-escape-bad-utf8"),
        pytest.param("Bearer %FF%FE", False, id="invalid-utf8"),
    ],
)
def test_bearer_rules(header: str, found: bool, token: str) -> None:
    value = header.format(t=token, pct=token.replace(".", "%2E"))
    environ = environ_with(authorization=value)
    raw = get_token(environ, raw=True)
    claims = get_token(environ_with(authorization=value), secret=SECRET)
    if found:
        assert raw == token and claims["sub"] == "u1"
    else:
        assert claims is None
        if "%" in value:
            assert raw is None  # a malformed escape is no token, even raw


def test_percent_decoding_keeps_the_decoded_text() -> None:
    assert get_token(environ_with(authorization="Bearer a%20b%C3%A9"), raw=True) == "a bé"


def test_a_cookie_shadows_the_bearer_header(token: str) -> None:
    bearer = f"Bearer {token}"
    environ = environ_with(f"{V4_NAME}=garbage", authorization=bearer)
    assert get_token(environ, raw=True) == "garbage"
    assert get_token(environ_with(f"{V4_NAME}=garbage", authorization=bearer), secret=SECRET) is None
    # an empty cookie is no cookie: the header is used
    assert get_token(environ_with(f"{V4_NAME}=", authorization=bearer), secret=SECRET)["sub"] == "u1"
    # so is a cookie of another name
    assert get_token(environ_with(f"other={token}x", authorization=bearer), secret=SECRET)["sub"] == "u1"
    # an oversized cookie is no token but still a cookie
    huge = f"{V4_NAME}={'a' * (MAX_TOKEN_LENGTH + 1)}"
    assert get_token(environ_with(huge, authorization=bearer), secret=SECRET) is None


# --------------------------------------------------------------------------- decode hook


def test_decode_hook_gets_token_and_secret_only(token: str) -> None:
    calls: list[dict[str, t.Any]] = []

    def hook(**kwargs: t.Any) -> dict[str, t.Any]:
        calls.append(kwargs)
        return {"sub": "hooked"}

    assert get_token(environ_with(f"{V4_NAME}=opaque"), secret=SECRET, decode=hook) == {"sub": "hooked"}
    assert calls == [{"token": "opaque", "secret": SECRET}]
    get_token(environ_with(authorization="Bearer b%2Ec"), secret=[SECRET, OTHER], decode=hook)
    assert calls[-1] == {"token": "b.c", "secret": [SECRET, OTHER]}


def test_decode_hook_is_not_called_without_a_token_or_for_raw() -> None:
    def hook(**kwargs: t.Any) -> t.NoReturn:
        raise AssertionError("called")

    assert get_token(environ_with(), secret=SECRET, decode=hook) is None
    assert get_token(environ_with(f"{V4_NAME}=x"), secret=SECRET, decode=hook, raw=True) == "x"


@pytest.mark.parametrize(
    "result",
    [
        pytest.param(ValueError("boom"), id="raises"),
        pytest.param(KeyError("secret-ish"), id="raises-keyerror"),
        pytest.param(None, id="returns-none"),
        pytest.param({}, id="returns-empty"),
        pytest.param("a string", id="returns-str"),
        pytest.param(["sub", "x"], id="returns-list"),
        pytest.param(42, id="returns-int"),
    ],
)
def test_decode_hook_failures_are_no_token(result: t.Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="flask_authguard")

    def hook(*, token: str, secret: t.Any) -> t.Any:
        if isinstance(result, Exception):
            raise result
        return result

    assert get_token(environ_with(f"{V4_NAME}=tok-value-123"), secret=SECRET, decode=hook) is None
    assert all("tok-value-123" not in r.getMessage() and SECRET not in r.getMessage() for r in caplog.records)


def test_decode_hook_may_return_any_mapping() -> None:
    def hook(*, token: str, secret: t.Any) -> t.Mapping[str, t.Any]:
        return types.MappingProxyType({"sub": "proxy"})

    claims = get_token(environ_with(f"{V4_NAME}=x"), secret=SECRET, decode=hook)
    assert claims == {"sub": "proxy"} and type(claims) is dict


def test_async_decode_hook(token: str) -> None:
    async def hook(*, token: str, secret: t.Any) -> dict[str, t.Any]:
        return {"sub": "async", "token": token}

    async def failing(*, token: str, secret: t.Any) -> dict[str, t.Any]:
        raise RuntimeError("async boom")

    assert get_token(environ_with(f"{V4_NAME}=abc"), secret=SECRET, decode=hook) == {
        "sub": "async",
        "token": "abc",
    }
    assert get_token(environ_with(f"{V4_NAME}=abc"), secret=SECRET, decode=failing) is None


def test_decode_hook_tries_each_candidate() -> None:
    seen: list[str] = []

    def hook(*, token: str, secret: t.Any) -> dict[str, t.Any] | None:
        seen.append(token)
        return {"sub": token} if token == "good" else None

    cookie = f"{V4_NAME}=bad; {V4_NAME}=good"
    assert get_token(environ_with(cookie), secret=SECRET, decode=hook) == {"sub": "good"}
    assert seen == ["bad", "good"]


# --------------------------------------------------------------------------- names, v5, secrets


def test_secure_requests_read_the_secure_name(token: str) -> None:
    both = f"{V4_NAME}=plain; __Secure-{V4_NAME}={token}"
    assert get_token(environ_with(both, scheme="https"), secret=SECRET)["sub"] == "u1"
    assert get_token(environ_with(both, scheme="https"), raw=True) == token
    assert get_token(environ_with(both), raw=True) == "plain"
    assert get_token(environ_with(both), raw=True, secure_cookie=True) == token


def test_v5_cookie_names_and_salt(frozen_clock: t.Any) -> None:
    plain = encode(token={"sub": "v5"}, secret=SECRET, salt=V5_NAME, version=5)
    secure = encode(token={"sub": "v5s"}, secret=SECRET, salt=f"__Secure-{V5_NAME}", version=5)
    assert get_token(environ_with(f"{V5_NAME}={plain}"), secret=SECRET, version=5)["sub"] == "v5"
    environ = environ_with(f"__Secure-{V5_NAME}={secure}", scheme="https")
    assert get_token(environ, secret=SECRET, version=5)["sub"] == "v5s"
    # the salt is the cookie name: the same token under another name does not decrypt
    assert (
        get_token(environ_with(f"__Secure-{V5_NAME}={plain}", scheme="https"), secret=SECRET, version=5)
        is None
    )
    # v4 names and codec do not read v5 cookies, and the other way round
    assert get_token(environ_with(f"{V4_NAME}={plain}"), secret=SECRET) is None
    v4 = encode(token={"sub": "v4"}, secret=SECRET)
    assert get_token(environ_with(f"{V5_NAME}={v4}"), secret=SECRET, version=5) is None
    custom = encode(token={"sub": "c"}, secret=SECRET, salt="my-session", version=5)
    environ = environ_with(f"my-session={custom}")
    assert get_token(environ, secret=SECRET, version=5, cookie_name="my-session")["sub"] == "c"


def test_v5_bearer(frozen_clock: t.Any) -> None:
    plain = encode(token={"sub": "v5b"}, secret=SECRET, salt=V5_NAME, version=5)
    assert get_token(environ_with(authorization=f"Bearer {plain}"), secret=SECRET, version=5)["sub"] == "v5b"


@pytest.mark.parametrize(
    ("env", "version", "found"),
    [
        pytest.param({"NEXTAUTH_SECRET": SECRET}, 4, True, id="v4-nextauth-secret"),
        pytest.param({"AUTH_SECRET": SECRET}, 4, True, id="v4-auth-secret"),
        pytest.param({"NEXTAUTH_SECRET": SECRET, "AUTH_SECRET": OTHER}, 4, True, id="v4-nextauth-first"),
        pytest.param({"NEXTAUTH_SECRET": OTHER, "AUTH_SECRET": SECRET}, 4, False, id="v4-auth-secret-second"),
        # next-auth's ??: an empty NEXTAUTH_SECRET does not fall through to AUTH_SECRET
        pytest.param({"NEXTAUTH_SECRET": "", "AUTH_SECRET": SECRET}, 4, False, id="v4-empty-wins"),
        pytest.param({"AUTH_SECRET": SECRET, "NEXTAUTH_SECRET": OTHER}, 5, True, id="v5-auth-first"),
        pytest.param({"NEXTAUTH_SECRET": SECRET}, 5, True, id="v5-nextauth-fallback"),
        pytest.param({}, 4, False, id="no-secret"),
    ],
)
def test_secret_from_environment(
    env: dict[str, str], version: int, found: bool, monkeypatch: pytest.MonkeyPatch, frozen_clock: t.Any
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    name = V4_NAME if version == 4 else V5_NAME
    value = encode(token={"sub": "env"}, secret=SECRET, salt=name if version == 5 else "", version=version)
    claims = get_token(environ_with(f"{name}={value}"), version=version)
    assert (claims is not None and claims["sub"] == "env") is found
    assert get_token(environ_with(f"{name}={value}"), version=version, raw=True) == value


def test_explicit_secret_beats_the_environment(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXTAUTH_SECRET", OTHER)
    assert get_token(environ_with(f"{V4_NAME}={token}"), secret=SECRET)["sub"] == "u1"
    assert get_token(environ_with(f"{V4_NAME}={token}")) is None


def test_bad_options_are_no_token(token: str) -> None:
    assert get_token(environ_with(f"{V4_NAME}={token}"), secret=[SECRET, ""]) is None
    assert get_token(environ_with(f"{V4_NAME}={token}"), secret=SECRET, version=7) is None


# --------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(f"{V4_NAME}=" + "a" * 1_000_000, id="one-1mb-value"),
        pytest.param("; ".join(f"c{i}=v" for i in range(100_000)), id="100k-cookies"),
        pytest.param("; ".join(f"{V4_NAME}.{i}={'b' * 3933}" for i in range(250)), id="250-chunks"),
        pytest.param("; ".join(f"{V4_NAME}={'c' * 4000}" for i in range(250)), id="250-duplicates"),
        pytest.param('"' * 1_000_000, id="1mb-quotes"),
        pytest.param("\xff\xfe" * 500_000, id="1mb-invalid-utf8"),
    ],
)
def test_huge_cookie_header_is_no_token(cookie: str) -> None:
    before = derive_key.cache_info()
    assert get_token(environ_with(cookie), secret="huge-header-secret") is None
    assert get_token(environ_with(cookie, authorization="Bearer " + "d" * 1_000_000), secret=SECRET) is None
    assert derive_key.cache_info().misses == before.misses  # refused before any key derivation


def test_huge_bearer_is_no_token() -> None:
    environ = environ_with(authorization="Bearer " + "e" * 1_000_000)
    assert get_token(environ, secret=SECRET) is None
    assert get_token(environ_with(authorization="Bearer " + "e" * 1_000_000), raw=True) is None


def test_cookie_values_are_trimmed_and_unquoted_like_cookie_parse(token: str) -> None:
    for cookie in (f'{V4_NAME}="{token}"', f"{V4_NAME} = {token}\t", f"{V4_NAME}={token};junk"):
        assert get_token(environ_with(cookie), secret=SECRET)["sub"] == "u1"


def test_invalid_utf8_in_the_cookie_header_does_not_hide_the_session(token: str) -> None:
    environ = environ_with(f"junk=\xff\xfe; {V4_NAME}={token}")
    assert get_token(environ, secret=SECRET)["sub"] == "u1"


# -- cookies planted around the user's (a sibling subdomain can set them) ---------------------


@pytest.fixture
def victim_and_attacker(frozen_clock: t.Any) -> tuple[str, str]:
    """A chunked session (two cookies' worth of claims) and another user's valid token."""
    victim = encode(token={"sub": "victim", "blob": "x" * 5000}, secret=SECRET, max_age=3600)
    attacker = encode(token={"sub": "attacker"}, secret=SECRET, max_age=3600)
    return victim, attacker


def _chunked(token: str) -> tuple[str, str]:
    return token[:3933], token[3933:]


def test_a_duplicate_chunk_does_not_hand_over_the_bare_cookie(victim_and_attacker: tuple[str, str]) -> None:
    """A junk duplicate of one chunk beside the victim's chunked session and the attacker's own
    bare cookie: both identities are seen, so no session (never the attacker's)."""
    victim, attacker = victim_and_attacker
    first, second = _chunked(victim)
    plain = f"{V4_NAME}.0={first}; {V4_NAME}.1={second}; {V4_NAME}={attacker}"
    planted = f"{V4_NAME}.0={first}; {V4_NAME}.1={second}; {V4_NAME}.1=junk; {V4_NAME}={attacker}"
    assert get_token(environ_with(plain), secret=SECRET) is None
    assert get_token(environ_with(planted), secret=SECRET) is None


def test_a_junk_duplicate_chunk_alone_keeps_the_users_session(victim_and_attacker: tuple[str, str]) -> None:
    victim, _ = victim_and_attacker
    first, second = _chunked(victim)
    for cookie in (
        f"{V4_NAME}.0={first}; {V4_NAME}.1={second}; {V4_NAME}.1=junk",
        f"{V4_NAME}.0=junk; {V4_NAME}.0={first}; {V4_NAME}.1={second}",
    ):
        assert get_token(environ_with(cookie), secret=SECRET)["sub"] == "victim"


def test_a_quoted_value_cannot_hide_the_users_cookie(victim_and_attacker: tuple[str, str]) -> None:
    """werkzeug reads ``a="x; <session>; b=y"`` as one cookie ``a``; browsers and Next.js see the
    session cookie in it. Hiding the user's cookie so that only another one is seen is no session."""
    _, attacker = victim_and_attacker
    victim = encode(token={"sub": "victim"}, secret=SECRET, max_age=3600)
    hidden = f'a="x; {V4_NAME}={victim}; b=y"; {V4_NAME}={attacker}'
    assert get_token(environ_with(hidden), secret=SECRET) is None
    alone = f'a="x; {V4_NAME}={victim}; b=y"'
    assert get_token(environ_with(alone), secret=SECRET) is None  # the shortcut agrees
    quoted_elsewhere = f'pref="a b"; {V4_NAME}={victim}'
    assert get_token(environ_with(quoted_elsewhere), secret=SECRET)["sub"] == "victim"


def test_a_quoted_value_cannot_hide_a_database_session_cookie() -> None:
    from flask_authguard.core.tokens.request_token import database_session_cookie

    hidden = {"HTTP_COOKIE": f'a="x; {V4_NAME}=tok-victim; b=y"; {V4_NAME}=tok-attacker'}
    assert database_session_cookie(hidden, V4_NAME)[1] is None
    assert database_session_cookie({"HTTP_COOKIE": f"{V4_NAME}=tok-victim"}, V4_NAME)[1] == "tok-victim"


@pytest.mark.parametrize("blank", ["\x0b", "\x0c", "\x1f", "\x85", "\xa0"])
def test_only_spaces_and_tabs_are_trimmed_on_either_path(token: str, blank: str) -> None:
    """Other whitespace stays in the value, as werkzeug keeps it: the shortcut and the parsed
    header give the same answer (none: the value is not the token)."""
    header = f"{V4_NAME}={blank}{token}"
    quick = get_token(environ_with(header), secret=SECRET)
    parsed = environ_with(header)
    request_cookies(parsed)  # parsed first: the general reader answers
    assert quick is None and get_token(parsed, secret=SECRET) is None


# -- properties: any cookie header gives a token or none ---------------------------------------

NAME = "next-auth.session-token"
GOOD = encode(token={"sub": "u1", "role": "user"}, secret=SECRET)


@BOUNDED
@given(st.text(HEADER_CHARS, max_size=300), st.booleans())
def test_any_cookie_header_gives_a_token_or_none(header: str, bearer: bool) -> None:
    environ: dict[str, t.Any] = {"HTTP_COOKIE": header}
    if bearer:
        environ["HTTP_AUTHORIZATION"] = "Bearer " + header[:50]
    assert get_token(environ, secret=SECRET) is None  # nothing in it was made with our secret
    request_cookies(environ)  # parses without raising


@BOUNDED
@given(st.text(max_size=300), st.integers(1, 6))
def test_a_genuine_token_survives_any_neighbouring_cookies(noise: str, position: int) -> None:
    junk = [f"k{i}={noise[i * 10 : i * 10 + 10]}".replace(";", "") for i in range(position)]
    header = "; ".join([*junk, f"{NAME}={GOOD}"])
    claims = get_token({"HTTP_COOKIE": header.encode("utf-8", "replace").decode("latin-1")}, secret=SECRET)
    assert claims is None or claims["sub"] == "u1"
