"""Proof at scale, by property: whatever the input, no exception escapes, no forged token is
accepted, no redirect leaves the site, and the defence rules hold.

Bounded (``max_examples``) so that the suite stays fast; each property states the invariant.
"""

from __future__ import annotations

import string
import typing as t
from urllib.parse import urlsplit

import pytest
from conftest import SECRET
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from werkzeug.http import parse_cookie
from werkzeug.test import EnvironBuilder

from flask_authguard import ConfigurationError, TokenError, decode, encode
from flask_authguard.core.defences.crosssite import cross_site_reason
from flask_authguard.core.defences.revocation import RevocationList
from flask_authguard.core.defences.store import MemoryStore
from flask_authguard.core.http import cookies
from flask_authguard.core.matcher import compile_matcher
from flask_authguard.core.settings.checks import normalize_origin
from flask_authguard.core.settings.config import CookieSpec, resolve_options
from flask_authguard.core.tokens.request_token import get_token, request_cookies
from flask_authguard.endpoints.handler import safe_redirect
from flask_authguard.wsgi.middleware import normalize_path

BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAME = "next-auth.session-token"
B64 = string.ascii_letters + string.digits + "-_"
GOOD = encode(token={"sub": "u1", "role": "user"}, secret=SECRET)


# -- token decoding ---------------------------------------------------------------------------


@BOUNDED
@given(st.text(max_size=400))
def test_decoding_any_text_raises_only_token_errors(text: str) -> None:
    try:
        claims = decode(token=text, secret=SECRET)
    except TokenError:
        return
    assert claims is None or isinstance(claims, dict)


@BOUNDED
@given(
    st.lists(st.text(st.sampled_from(B64), max_size=60), min_size=5, max_size=5).map(".".join),
)
def test_decoding_well_shaped_garbage_never_yields_claims(text: str) -> None:
    with pytest.raises(TokenError):
        decode(token=text, secret=SECRET)


@BOUNDED
@given(st.integers(0, len(GOOD) - 1), st.sampled_from(B64))
def test_no_forged_token_is_accepted(position: int, replacement: str) -> None:
    """Changing any one character of a genuine token (other than to an equivalent spelling)
    makes it no token: authenticated encryption, canonical base64url."""
    forged = GOOD[:position] + replacement + GOOD[position + 1 :]
    assume(forged != GOOD)
    with pytest.raises(TokenError):
        decode(token=forged, secret=SECRET)


@BOUNDED
@given(st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=8), st.integers(), max_size=5))
def test_a_token_made_with_another_secret_is_refused(claims: dict[str, int]) -> None:
    claims.pop("exp", None)
    claims.pop("iat", None)
    token = encode(token=claims, secret="some-other-secret")
    with pytest.raises(TokenError):
        decode(token=token, secret=SECRET)


# -- cookie parsing and chunk reassembly -----------------------------------------------------------

HEADER_CHARS = st.characters(min_codepoint=0, max_codepoint=0x2FF)


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


@BOUNDED
@given(
    value=st.text(
        st.characters(min_codepoint=32, max_codepoint=0x10FFFF, exclude_categories=("Cs",)), max_size=900
    ),
    size=st.integers(20, 120),
)
def test_chunks_reassemble_to_the_value(value: str, size: int) -> None:
    spec = CookieSpec(name=NAME)
    headers = cookies.chunk(spec, value, existing=[], chunk_size=size)
    pairs = [h.split(";", 1)[0].split("=", 1) for h in headers]
    jar = parse_cookie("; ".join(f"{n}={v}" for n, v in pairs))
    assert cookies.session_values(jar, NAME)[:1] == ([value] if value else [])


@BOUNDED
@given(
    st.lists(
        st.tuples(
            st.sampled_from([NAME, f"{NAME}.0", f"{NAME}.1", f"{NAME}.7", f"{NAME}.x"]), st.text(max_size=20)
        ),
        max_size=8,
    )
)
def test_any_chunk_set_reads_without_raising(pairs: list[tuple[str, str]]) -> None:
    from werkzeug.datastructures import MultiDict

    values = cookies.session_values(MultiDict(pairs), NAME)
    assert all(isinstance(v, str) and v for v in values)


# -- path normalisation and the matcher ----------------------------------------------------------

SEGMENTS = st.lists(st.sampled_from(["", ".", "..", "a", "admin", "b.c", "%2e", "x y"]), max_size=8)


@BOUNDED
@given(SEGMENTS, st.booleans())
@example(["."], False)  # found by this property: PATH_INFO "." was left as "/."
@example([".."], False)
def test_normalised_paths_are_canonical(segments: list[str], leading: bool) -> None:
    path = ("/" if leading else "") + "/".join(segments)
    out = normalize_path(path)
    assert out.startswith("/")
    assert "//" not in out
    assert ".." not in out.split("/") and "." not in out.split("/")
    assert normalize_path(out) == out  # idempotent


@BOUNDED
@given(SEGMENTS)
def test_dot_segments_never_escape_a_protected_prefix(segments: list[str]) -> None:
    """Whatever ``..`` tricks a path holds, what the matcher sees is what the app serves."""
    matcher = compile_matcher(["/admin/:path*"])
    path = normalize_path("/public/" + "/".join(segments))
    served = [s for s in path.split("/") if s]
    assert matcher.matches(path) == (served[:1] == ["admin"])


@BOUNDED
@given(st.text(max_size=80), st.text(max_size=80))
def test_the_matcher_never_raises_on_any_path_or_pattern(pattern: str, path: str) -> None:
    try:
        matcher = compile_matcher([pattern])
    except ConfigurationError:
        return
    assert isinstance(matcher.matches(path), bool)


# -- the redirect check -----------------------------------------------------------------------------

BASE = "https://app.example.com"
URLISH = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda a, b: a + b,
        st.sampled_from(
            [
                "/",
                "//",
                "/\\",
                "https://",
                "http://",
                "javascript:",
                "\t/",
                "https://app.example.com",
                "https://app.example.com@",
                "https://app.example.com.",
            ]
        ),
        st.text(max_size=40),
    ),
)


@BOUNDED
@given(URLISH)
def test_no_redirect_leaves_the_site(url: str) -> None:
    out = safe_redirect(url, BASE)
    parts = urlsplit(out)
    assert f"{parts.scheme}://{parts.netloc}" == BASE
    assert out.isascii() and not any(c in out for c in "\r\n\t\\ ")


# -- the defences ------------------------------------------------------------------------------------

CROSS = resolve_options({"secret": SECRET, "trusted_origins": ["http://localhost:3000"]})


@BOUNDED
@given(
    st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
    st.one_of(
        st.none(),
        st.text(HEADER_CHARS, max_size=40),
        st.sampled_from(["same-origin", "same-site", "cross-site", "none"]),
    ),
    st.one_of(
        st.none(),
        st.text(HEADER_CHARS, max_size=60),
        st.sampled_from(["https://evil.test", "null", "http://api.example.com", "http://localhost:3000"]),
    ),
    st.one_of(st.none(), st.text(HEADER_CHARS, max_size=60)),
)
def test_cross_site_rule_never_raises_and_never_trusts_a_stranger(
    method: str, site: str | None, origin: str | None, referer: str | None
) -> None:
    environ = EnvironBuilder(path="/x", method=method, base_url="http://api.example.com").get_environ()
    for key, value in (("HTTP_SEC_FETCH_SITE", site), ("HTTP_ORIGIN", origin), ("HTTP_REFERER", referer)):
        if value is not None:
            environ[key] = value
    reason = cross_site_reason(environ, CROSS)
    assert reason is None or reason.isprintable()
    friendly = {"http://api.example.com", "http://localhost:3000"}
    stranger = origin is not None and normalize_origin(origin) not in friendly
    if (
        method in ("POST", "PUT", "PATCH", "DELETE")
        and stranger
        and (site or "").strip().lower() not in ("same-origin", "none")
    ):
        assert reason is not None


@BOUNDED
@given(
    st.floats(1_600_000_000, 1_800_000_000),
    st.floats(-1000, 1000),
    st.one_of(st.none(), st.text(max_size=10)),
)
def test_a_user_revocation_refuses_exactly_the_earlier_sign_ins(
    revoked_at: float, offset: float, sid: str | None
) -> None:
    store = MemoryStore("p:")
    store.put("p:u:u1", repr(revoked_at))
    claims: dict[str, t.Any] = {"sub": "u1", "auth_time": revoked_at + offset, "iat": 2_000_000_000}
    if sid:
        claims["sid"] = sid
    assert RevocationList(store, CROSS).is_revoked(claims) == (revoked_at + offset <= revoked_at)
