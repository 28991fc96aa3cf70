"""Round trips with the real next-auth 4.24.15 and ``@auth/core`` 0.41.3 under Node.js.

Tokens and cookies we write must be read by next-auth's ``decode``/``getToken`` (and Auth.js
v5's), and theirs by ours. Needs ``node`` and ``npm``; see ``tests/support/nodejs.py`` for the install
(cached) and the skip rule (a failure under ``CI=true``).
"""

from __future__ import annotations

import typing as t

import pytest
from werkzeug.test import EnvironBuilder

from flask_authguard import InvalidTokenError, TokenExpiredError, decode, encode, get_token
from flask_authguard.core.http.cookies import chunk
from flask_authguard.core.settings.config import resolve_options
from flask_authguard.core.settings.options import CHUNK_SIZES

if t.TYPE_CHECKING:
    from support.nodejs import NextAuth

SECRET = "interop-secret-4f1d0c2b9e8a7d6c5b4a3f2e1d0c9b8a"
OTHER_SECRET = "another-secret-00112233445566778899aabbccddeeff"
V4_COOKIE = "next-auth.session-token"
V5_SALTS = ("authjs.session-token", "__Secure-authjs.session-token")

CLAIMS = [
    pytest.param({"sub": "user-1"}, id="minimal"),
    pytest.param(
        {
            "name": "Jane Doe",
            "email": "jane@example.com",
            "picture": "https://example.com/j.png",
            "sub": "user-123",
        },
        id="default-claims",
    ),
    pytest.param(
        {
            "sub": "u-ü",
            "name": "Zoë Ångström 山田太郎 🙂",
            "bio": "שלום\u200f, emoji 👩\u200d💻, control \u0001\u001f, quotes \"'\\ and </script>",
            "astral": "\U0001f600\U00010348",
        },
        id="unicode",
    ),
    pytest.param(
        {
            "sub": "u2",
            "roles": ["admin", "ops"],
            "nested": {"a": [1, 2.5, None, True, False], "b": {}},
            "n": -7,
        },
        id="nested",
    ),
    pytest.param({"sub": "big", "groups": [f"group-{i:04d}-ü" for i in range(400)]}, id="over-4kb"),
    pytest.param({"sub": "bigger", "blob": "x" * 9000}, id="three-chunks"),
]


def _expected(claims: dict[str, t.Any], payload: dict[str, t.Any]) -> None:
    """``payload`` holds ``claims`` plus the iat, exp and jti every encoder adds."""
    assert {k: payload[k] for k in claims} == claims
    assert set(payload) == set(claims) | {"iat", "exp", "jti"}
    assert isinstance(payload["iat"], int) and isinstance(payload["exp"], int)


def _cookie_header(set_cookies: t.Sequence[str], *, reverse: bool = False) -> str:
    """The ``Cookie`` header a browser sends back after these ``Set-Cookie`` values."""
    pairs = [header.split(";", 1)[0] for header in set_cookies]
    pairs = [pair for pair in pairs if pair.split("=", 1)[1]]  # deletions are not sent back
    return "; ".join(reversed(pairs) if reverse else pairs)


def _our_cookies(token: str, *, version: int = 4, secure: bool = False, name: str | None = None) -> list[str]:
    options: dict[str, t.Any] = {"version": version, "secret": SECRET, "use_secure_cookies": secure}
    if name:
        options["cookies"] = {"session_token": {"name": name}}
    spec = resolve_options(options).session_cookie(secure)
    return chunk(spec, token, existing=[], chunk_size=CHUNK_SIZES[version], expires=2_000_000_000)


def _environ(**headers: str) -> dict[str, t.Any]:
    return EnvironBuilder(headers={k.replace("_", "-"): v for k, v in headers.items()}).get_environ()


# -- v4: our tokens in next-auth ------------------------------------------------------------


@pytest.mark.parametrize("claims", CLAIMS)
def test_our_v4_token_decodes_in_nextauth(nextauth: NextAuth, claims: dict[str, t.Any]) -> None:
    token = encode(token=claims, secret=SECRET, max_age=3600)
    [payload] = nextauth.values([{"op": "decode", "token": token, "secret": SECRET}])
    _expected(claims, payload)
    assert payload == decode(token=token, secret=SECRET)
    assert payload["exp"] - payload["iat"] == 3600


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "secure"])
@pytest.mark.parametrize("claims", CLAIMS)
def test_our_cookies_read_by_nextauth_get_token(
    nextauth: NextAuth, claims: dict[str, t.Any], secure: bool
) -> None:
    token = encode(token=claims, secret=SECRET, max_age=3600)
    set_cookies = _our_cookies(token, secure=secure)
    if len(token) > CHUNK_SIZES[4]:
        assert len(set_cookies) > 1
    base = {"op": "getToken", "secret": SECRET, "secureCookie": secure}
    header = _cookie_header(set_cookies)
    payload, raw, payload_reversed = nextauth.values(
        [
            {**base, "req": {"headers": {"cookie": header}}},
            {**base, "req": {"headers": {"cookie": header}}, "raw": True},
            {**base, "req": {"headers": {"cookie": _cookie_header(set_cookies, reverse=True)}}},
        ]
    )
    _expected(claims, payload)
    assert raw == token
    assert payload_reversed == payload


@pytest.mark.parametrize("claims", CLAIMS[:3] + CLAIMS[4:5])
def test_our_v4_token_as_bearer_in_nextauth(nextauth: NextAuth, claims: dict[str, t.Any]) -> None:
    token = encode(token=claims, secret=SECRET)
    [payload] = nextauth.values(
        [{"op": "getToken", "secret": SECRET, "req": {"headers": {"authorization": f"Bearer {token}"}}}]
    )
    _expected(claims, payload)


# -- v4: next-auth's tokens here ------------------------------------------------------------


@pytest.mark.parametrize("claims", CLAIMS)
def test_nextauth_v4_token_decodes_here(nextauth: NextAuth, claims: dict[str, t.Any]) -> None:
    [token] = nextauth.values([{"op": "encode", "token": claims, "secret": SECRET, "maxAge": 600}])
    [node_payload] = nextauth.values([{"op": "decode", "token": token, "secret": SECRET}])
    payload = decode(token=token, secret=SECRET)
    assert payload == node_payload
    _expected(claims, payload)
    assert payload["exp"] - payload["iat"] == 600


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "secure"])
@pytest.mark.parametrize("claims", CLAIMS)
def test_nextauth_v4_cookies_read_by_get_token(
    nextauth: NextAuth, claims: dict[str, t.Any], secure: bool
) -> None:
    name = f"__Secure-{V4_COOKIE}" if secure else V4_COOKIE
    [token] = nextauth.values([{"op": "encode", "token": claims, "secret": SECRET}])
    [cookies] = nextauth.values([{"op": "chunk", "name": name, "value": token, "secure": secure}])
    set_cookies = [c["setCookie"] for c in cookies]
    assert [c["name"] + "=" + c["value"] for c in cookies] == [
        h.split(";", 1)[0] for h in _our_cookies(token, secure=secure)
    ]
    for header in (_cookie_header(set_cookies), _cookie_header(set_cookies, reverse=True)):
        environ = _environ(cookie=header)
        _expected(claims, get_token(environ, secret=SECRET, secure_cookie=secure))
        assert get_token(environ, secret=SECRET, secure_cookie=secure, raw=True) == token
    bearer = _environ(authorization=f"Bearer {token}")
    _expected(claims, get_token(bearer, secret=SECRET))


def test_chunking_matches_nextauth(nextauth: NextAuth) -> None:
    """Same chunk names and values as next-auth's SessionStore, stale chunks deleted alike."""
    token = encode(token={"sub": "s", "blob": "y" * 9000}, secret=SECRET)
    existing = [f"{V4_COOKIE}.{i}" for i in range(5)]
    [theirs] = nextauth.values(
        [{"op": "chunk", "name": V4_COOKIE, "value": token, "existing": existing, "expires": 2_000_000_000}]
    )
    spec = resolve_options({"secret": SECRET}).session_cookie(False)
    ours = chunk(spec, token, existing=existing, chunk_size=CHUNK_SIZES[4], expires=2_000_000_000)
    assert [h.split(";", 1)[0] for h in ours] == [f"{c['name']}={c['value']}" for c in theirs]


# -- v5 (Auth.js) ------------------------------------------------------------------------------


@pytest.mark.parametrize("salt", V5_SALTS)
@pytest.mark.parametrize("claims", [CLAIMS[1], CLAIMS[2], CLAIMS[4]])
def test_v5_our_tokens_in_auth_core(nextauth: NextAuth, claims: dict[str, t.Any], salt: str) -> None:
    secure = salt.startswith("__Secure-")
    token = encode(token=claims, secret=SECRET, salt=salt, version=5)
    header = _cookie_header(_our_cookies(token, version=5, secure=secure))
    payload, from_cookie, from_bearer = nextauth.values(
        [
            {"op": "v5decode", "token": token, "secret": SECRET, "salt": salt},
            {
                "op": "v5getToken",
                "secret": SECRET,
                "secureCookie": secure,
                "req": {"headers": {"cookie": header}},
            },
            {
                "op": "v5getToken",
                "secret": SECRET,
                "secureCookie": secure,
                "req": {"headers": {"authorization": f"Bearer {token}"}},
            },
        ]
    )
    _expected(claims, payload)
    assert from_cookie == payload == from_bearer


@pytest.mark.parametrize("salt", V5_SALTS)
@pytest.mark.parametrize("claims", [CLAIMS[1], CLAIMS[2], CLAIMS[4]])
def test_v5_auth_core_tokens_here(nextauth: NextAuth, claims: dict[str, t.Any], salt: str) -> None:
    secure = salt.startswith("__Secure-")
    [token] = nextauth.values([{"op": "v5encode", "token": claims, "secret": SECRET, "salt": salt}])
    [cookies] = nextauth.values([{"op": "v5chunk", "name": salt, "value": token, "secure": secure}])
    payload = decode(token=token, secret=SECRET, salt=salt, version=5)
    _expected(claims, payload)
    environ = _environ(cookie=_cookie_header([c["setCookie"] for c in cookies]))
    assert get_token(environ, secret=SECRET, secure_cookie=secure, version=5) == payload
    # A Bearer token is decoded with the cookie name as salt too, so ``secure`` still matters.
    bearer = _environ(authorization=f"Bearer {token}")
    assert get_token(bearer, secret=SECRET, secure_cookie=secure, version=5) == payload


def test_v5_salt_mismatch_fails_on_both_sides(nextauth: NextAuth) -> None:
    plain, secure = V5_SALTS
    ours = encode(token={"sub": "1"}, secret=SECRET, salt=plain, version=5)
    theirs, refused = nextauth.run(
        [
            {"op": "v5encode", "token": {"sub": "1"}, "secret": SECRET, "salt": plain},
            {"op": "v5decode", "token": ours, "secret": SECRET, "salt": secure},
        ]
    )
    assert not refused["ok"]
    with pytest.raises(InvalidTokenError):
        decode(token=theirs["value"], secret=SECRET, salt=secure, version=5)
    # The same token under the other cookie name reads as no token.
    environ = _environ(cookie=f"{secure}={theirs['value']}")
    assert get_token(environ, secret=SECRET, secure_cookie=True, version=5) is None


def test_v5_secret_rotation(nextauth: NextAuth) -> None:
    salt = V5_SALTS[0]
    ours = encode(token={"sub": "r"}, secret=[SECRET, OTHER_SECRET], salt=salt, version=5)
    old, accepted = nextauth.values(
        [
            {"op": "v5encode", "token": {"sub": "r"}, "secret": OTHER_SECRET, "salt": salt},
            {"op": "v5decode", "token": ours, "secret": [OTHER_SECRET, SECRET], "salt": salt},
        ]
    )
    assert accepted["sub"] == "r"
    assert decode(token=old, secret=[SECRET, OTHER_SECRET], salt=salt, version=5)["sub"] == "r"


# -- refusals agree ---------------------------------------------------------------------------


def test_wrong_secret_is_null_on_both_sides(nextauth: NextAuth) -> None:
    salt = V5_SALTS[0]
    ours_v4 = encode(token={"sub": "1"}, secret=SECRET)
    ours_v5 = encode(token={"sub": "1"}, secret=SECRET, salt=salt, version=5)
    results = nextauth.run(
        [
            {"op": "decode", "token": ours_v4, "secret": OTHER_SECRET},
            {
                "op": "getToken",
                "secret": OTHER_SECRET,
                "req": {"headers": {"cookie": f"{V4_COOKIE}={ours_v4}"}},
            },
            {
                "op": "getToken",
                "secret": OTHER_SECRET,
                "req": {"headers": {"authorization": f"Bearer {ours_v4}"}},
            },
            {"op": "v5decode", "token": ours_v5, "secret": OTHER_SECRET, "salt": salt},
            {"op": "v5getToken", "secret": OTHER_SECRET, "req": {"headers": {"cookie": f"{salt}={ours_v5}"}}},
            {"op": "encode", "token": {"sub": "1"}, "secret": SECRET},
            {"op": "v5encode", "token": {"sub": "1"}, "secret": SECRET, "salt": salt},
        ]
    )
    decode_v4, cookie_v4, bearer_v4, decode_v5, cookie_v5, theirs_v4, theirs_v5 = results
    assert not decode_v4["ok"] and not decode_v5["ok"]
    assert cookie_v4 == bearer_v4 == cookie_v5 == {"ok": True, "value": None}
    with pytest.raises(InvalidTokenError):
        decode(token=theirs_v4["value"], secret=OTHER_SECRET)
    with pytest.raises(InvalidTokenError):
        decode(token=theirs_v5["value"], secret=OTHER_SECRET, salt=salt, version=5)
    environ = _environ(cookie=f"{V4_COOKIE}={theirs_v4['value']}")
    assert get_token(environ, secret=OTHER_SECRET) is None
    assert get_token(_environ(authorization=f"Bearer {theirs_v4['value']}"), secret=OTHER_SECRET) is None
    assert get_token(_environ(cookie=f"{salt}={theirs_v5['value']}"), secret=OTHER_SECRET, version=5) is None


def test_v4_and_v5_tokens_do_not_cross(nextauth: NextAuth) -> None:
    salt = V5_SALTS[0]
    ours_v4 = encode(token={"sub": "1"}, secret=SECRET)
    ours_v5 = encode(token={"sub": "1"}, secret=SECRET, salt=salt, version=5)
    v5_reads_v4, v4_reads_v5, theirs_v4, theirs_v5 = nextauth.run(
        [
            {"op": "v5decode", "token": ours_v4, "secret": SECRET, "salt": salt},
            {"op": "decode", "token": ours_v5, "secret": SECRET},
            {"op": "encode", "token": {"sub": "1"}, "secret": SECRET},
            {"op": "v5encode", "token": {"sub": "1"}, "secret": SECRET, "salt": salt},
        ]
    )
    assert not v5_reads_v4["ok"] and not v4_reads_v5["ok"]
    with pytest.raises(InvalidTokenError):
        decode(token=theirs_v4["value"], secret=SECRET, salt=salt, version=5)
    with pytest.raises(InvalidTokenError):
        decode(token=theirs_v5["value"], secret=SECRET)


@pytest.mark.parametrize(
    ("age", "accepted"),
    [(-99, True), (0, True), (14, True), (15, False), (10_000, False)],
    ids=["fresh", "at-exp", "within-tolerance", "at-tolerance", "long-expired"],
)
def test_expiry_boundary_agrees(nextauth: NextAuth, frozen_clock: t.Any, age: int, accepted: bool) -> None:
    """Both sides accept a token until 15 s past ``exp`` and refuse it from then on."""
    issued = int(frozen_clock.now)
    ours = encode(token={"sub": "1"}, secret=SECRET, max_age=100)
    [theirs] = nextauth.values(
        [{"op": "encode", "token": {"sub": "1"}, "secret": SECRET, "maxAge": 100, "now": issued}]
    )
    checked_at = issued + 100 + age  # ``age`` seconds past exp
    node_decode, node_get_token = nextauth.run(
        [
            {"op": "decode", "token": ours, "secret": SECRET, "now": checked_at},
            {
                "op": "getToken",
                "secret": SECRET,
                "now": checked_at,
                "req": {"headers": {"authorization": f"Bearer {ours}"}},
            },
        ]
    )
    frozen_clock.now = checked_at
    assert node_decode["ok"] is accepted
    assert (node_get_token["value"] is not None) is accepted
    if accepted:
        assert decode(token=theirs, secret=SECRET)["sub"] == "1"
    else:
        assert node_decode["error"]["code"] == "ERR_JWT_EXPIRED"
        with pytest.raises(TokenExpiredError):
            decode(token=theirs, secret=SECRET)
    assert (get_token(_environ(authorization=f"Bearer {theirs}"), secret=SECRET) is not None) is accepted
