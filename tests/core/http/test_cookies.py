"""Session cookie chunking (write), reassembly (read) and cookie-name selection, replayed from
the recorded next-auth cases in ``tests/data/cookies.json``."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import string
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import TESTS
from support.properties import BOUNDED
from werkzeug.datastructures import MultiDict
from werkzeug.http import parse_cookie
from werkzeug.test import create_environ

from flask_authguard.core.http import cookies
from flask_authguard.core.settings.config import CookieSpec
from flask_authguard.core.settings.options import CHUNK_SIZES
from flask_authguard.core.tokens.request_token import get_token

pytestmark = pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict:DeprecationWarning")

DATA = json.loads((TESTS / "data" / "cookies.json").read_text(encoding="utf-8"))
SECRET = DATA["secret"]
TOKENS = DATA["tokens"]
CHUNK = DATA["constants"]["CHUNK_SIZE"]
assert CHUNK == CHUNK_SIZES[4]


# --------------------------------------------------------------------------- helpers


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, t.Any]]:
    """``name``, ``value`` and the attributes (flags as ``True``) of one Set-Cookie value."""
    first, *rest = header.split("; ")
    name, _, value = first.partition("=")
    attributes: dict[str, t.Any] = {}
    for part in rest:
        key, eq, val = part.partition("=")
        attributes[key] = val if eq else True
    return name, value, attributes


def spec_for(case: dict[str, t.Any]) -> CookieSpec:
    opts = case["cookie_options"]
    return CookieSpec(
        name=case["cookie_name"],
        path=opts["path"],
        http_only=opts["httpOnly"],
        same_site=opts["sameSite"].title(),
        secure=opts["secure"],
    )


def environ_with(cookie_header: str | None = None, scheme: str = "http", **headers: str) -> dict[str, t.Any]:
    environ = create_environ("/", f"{scheme}://localhost:3000")
    if cookie_header is not None:
        environ["HTTP_COOKIE"] = cookie_header
    for key, value in headers.items():
        environ["HTTP_" + key.upper().replace("-", "_")] = value
    return environ


def apply_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str | None]) -> None:
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)


# --------------------------------------------------------------------------- writing

# next-auth clears every request cookie whose name merely starts with the session cookie name;
# only the exact name and its numbered chunks are ours (DESIGN.md), so we leave others alone.
NOT_OUR_CHUNKS = {"next-auth.session-token-legacy"}
WRITE_DIFFERENCES = {"prefix_collision_cleared": "exact-chunks"}


def _expected_writes(case: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    return [p for p in case["expect"]["set_cookie_parsed"] if p["name"] not in NOT_OUR_CHUNKS]


def _write_id(case: dict[str, t.Any]) -> str:
    rule = WRITE_DIFFERENCES.get(case["name"])
    return f"{rule}:{case['name']}" if rule else case["name"]


def test_write_differences_are_exactly_these() -> None:
    differ = {
        c["name"] for c in DATA["write_cases"] if _expected_writes(c) != c["expect"]["set_cookie_parsed"]
    }
    assert differ == set(WRITE_DIFFERENCES)


@pytest.mark.parametrize("case", [pytest.param(c, id=_write_id(c)) for c in DATA["write_cases"]])
def test_write_case(case: dict[str, t.Any]) -> None:
    spec = spec_for(case)
    existing = [c["name"] for c in case["existing_request_cookies"]]
    if case["operation"].startswith("SessionStore.clean"):
        headers = cookies.clean(spec, existing=existing)
    else:
        value = case["input"]["value"]
        assert len(value) == case["input"]["value_length"]
        headers = cookies.chunk(
            spec, value, existing=existing, chunk_size=CHUNK, expires=case["now"] + case["max_age"]
        )
    expected = _expected_writes(case)
    assert [parse_set_cookie(h)[0] for h in headers] == [p["name"] for p in expected]
    recorded_headers = {parse_set_cookie(h)[0]: h for h in case["expect"]["set_cookie"]}
    for header, want in zip(headers, expected, strict=True):
        name, value, attributes = parse_set_cookie(header)
        assert value == want["value"]
        assert attributes == want["attributes"]  # attribute order inside the header may differ
        if "expires_offset_s" in want:
            expires = email.utils.parsedate_to_datetime(attributes["Expires"]).timestamp()
            assert expires - case["now"] == want["expires_offset_s"]
        if "max_age" in want:
            assert int(attributes["Max-Age"]) == want["max_age"]
        first, *attrs = header.split("; ")
        r_first, *r_attrs = recorded_headers[name].split("; ")
        assert first == r_first and sorted(attrs) == sorted(r_attrs)


def test_prefix_sharing_cookie_is_left_alone() -> None:
    spec = CookieSpec(name="next-auth.session-token")
    existing = ["next-auth.session-token-legacy", "next-auth.session-token.x", "next-auth.session-token.1"]
    assert [parse_set_cookie(h)[0] for h in cookies.clean(spec, existing=existing)] == [
        "next-auth.session-token.1"
    ]


def test_v5_chunks_use_authjs_names_and_3936_characters() -> None:
    spec = CookieSpec(name="__Secure-authjs.session-token", secure=True)
    value = "a" * (CHUNK_SIZES[5] + 1)
    headers = cookies.chunk(
        spec, value, existing=["__Secure-authjs.session-token"], chunk_size=CHUNK_SIZES[5]
    )
    parsed = [parse_set_cookie(h) for h in headers]
    assert [(n, len(v)) for n, v, _ in parsed] == [
        ("__Secure-authjs.session-token", 0),
        ("__Secure-authjs.session-token.0", 3936),
        ("__Secure-authjs.session-token.1", 1),
    ]
    assert parsed[0][2]["Max-Age"] == "0"
    assert all(a.get("Secure") is True and "Expires" not in a for _, _, a in parsed)


def test_existing_may_be_the_request_cookie_multidict() -> None:
    spec = CookieSpec(name="next-auth.session-token")
    jar = MultiDict(
        [("next-auth.session-token.0", "a"), ("theme", "dark"), ("next-auth.session-token.1", "b")]
    )
    headers = cookies.chunk(spec, "tok", existing=jar, chunk_size=CHUNK)
    assert [parse_set_cookie(h)[:2] for h in headers] == [
        ("next-auth.session-token.0", ""),
        ("next-auth.session-token.1", ""),
        ("next-auth.session-token", "tok"),
    ]
    assert cookies.clean(spec, existing=[]) == []


@settings(max_examples=100, deadline=None, database=None)
@given(value=st.text(max_size=700), size=st.integers(45, 80))
def test_chunk_then_read_round_trips(value: str, size: int) -> None:
    spec = CookieSpec(name="next-auth.session-token")
    headers = cookies.chunk(spec, value, existing=[], chunk_size=size)
    pairs = [parse_set_cookie(h)[:2] for h in headers]
    jar = parse_cookie("; ".join(f"{n}={v}" for n, v in pairs))
    assert cookies.session_values(jar, spec.name)[:1] == ([value] if value else [])


# --------------------------------------------------------------------------- reading

# Our reading of the same Cookie header, whichever Next.js parser recorded the case: werkzeug's
# parser behaves like next-auth's API-route parser (``node_api``: trimmed, first duplicate first,
# malformed escapes kept, a bare name ignored), then every candidate is tried. Values:
# "node_api" = what next-auth recorded for the node_api context; ("token", name) = a token of
# cookies.json; ("value", text); ("cookie", name) = that cookie's value in the header.
Spec = str | tuple[str, str] | None


class Ours(t.NamedTuple):
    raw: Spec
    payload: Spec
    rule: str | None = None  # names our rule where this differs from a recording


SAME = Ours("node_api", "node_api")
OUR_READ: dict[str, Ours] = {
    "unchunked_small": SAME,
    "chunks_in_order": SAME,
    # raw is the joined run like next-auth's, but a stale trailing chunk no longer signs out.
    "chunks_with_stale_extra": Ours("node_api", ("token", "medium_5k"), "stale-chunk-fallback"),
    "chunks_with_unrelated_cookies": SAME,
    # Only name.0..name.N-1 without gaps: .2 after a missing .1 is not read.
    "chunks_gap": Ours(("cookie", "next-auth.session-token.0"), None, "exact-chunks"),
    "mixed_chunked_and_unchunked_base_first": Ours(("value", "AB"), None, "exact-chunks"),
    "mixed_chunked_and_unchunked_base_middle": Ours(("value", "AB"), None, "exact-chunks"),
    "mixed_chunked_and_unchunked_base_first_reversed": Ours(("value", "AB"), None, "exact-chunks"),
    "mixed_chunked_and_unchunked_base_with_three_chunks_shuffled": Ours(
        ("value", "ABC"), None, "exact-chunks"
    ),
    # Joined chunks first, then the bare cookie: the valid chunked token wins.
    "mixed_real_tokens_base_first": Ours(("token", "medium_5k"), ("token", "medium_5k"), "try-candidates"),
    "twelve_chunks_numeric_sort": SAME,
    "non_numeric_suffix": Ours(("value", "AB"), None, "exact-chunks"),
    "duplicate_name_real_first": Ours("node_api", "node_api", "try-candidates"),
    "duplicate_name_real_last": Ours(("value", "garbage"), ("token", "small"), "try-candidates"),
    "percent_encoded_value": SAME,
    "invalid_percent_encoding": Ours("node_api", None, "cookie-parse"),
    "invalid_percent_duplicate_fallback": SAME,
    "spaces_around_equals": Ours("node_api", "node_api", "cookie-parse"),
    "empty_value_with_bearer": SAME,
    "cookie_without_equals": Ours(None, None, "cookie-parse"),
    "secure_cookie_ignored_on_http": SAME,
    "secure_cookie_on_https": SAME,
    "secure_chunks_on_https": SAME,
    "bearer_only": SAME,
    "bearer_lowercase_scheme": SAME,
    "bearer_trailing_garbage": SAME,
    "bearer_percent_encoded": SAME,
    "bearer_malformed_percent": SAME,
    "bearer_tab_separator": SAME,
    "cookie_wins_over_bearer": SAME,
    # WSGI header names are case-insensitive; there is no "headers-only object" request.
    "authorization_header_capitalised_key": Ours("node_api", "node_api", "wsgi-headers"),
    # We always parse the Cookie header (next-auth reads only req.cookies).
    "headers_only_object_cookie_ignored": Ours(
        ("token", "small"), ("token", "small"), "cookie-header-parsed"
    ),
    "custom_cookie_name_param": SAME,
    "custom_cookie_name_chunked": SAME,
}

READ_CASES = {c["name"]: c for c in DATA["read_cases"]}
READ_DIFFERENCES = {
    "chunks_with_stale_extra__next_request",
    "chunks_with_stale_extra__node_api",
    "chunks_gap__next_request",
    "chunks_gap__node_api",
    "mixed_chunked_and_unchunked_base_first__next_request",
    "mixed_chunked_and_unchunked_base_first__node_api",
    "mixed_chunked_and_unchunked_base_middle__next_request",
    "mixed_chunked_and_unchunked_base_middle__node_api",
    "mixed_chunked_and_unchunked_base_first_reversed__next_request",
    "mixed_chunked_and_unchunked_base_first_reversed__node_api",
    "mixed_chunked_and_unchunked_base_with_three_chunks_shuffled__next_request",
    "mixed_chunked_and_unchunked_base_with_three_chunks_shuffled__node_api",
    "mixed_real_tokens_base_first__next_request",
    "mixed_real_tokens_base_first__node_api",
    "non_numeric_suffix__next_request",
    "non_numeric_suffix__node_api",
    "duplicate_name_real_first__next_request",
    "duplicate_name_real_last__next_request",
    "duplicate_name_real_last__node_api",
    "invalid_percent_encoding__next_request",
    "spaces_around_equals__next_request",
    "cookie_without_equals__next_request",
    "authorization_header_capitalised_key__headers_only_object",
    "headers_only_object_cookie_ignored__headers_only_object",
}


def _resolve(spec: Spec, case: dict[str, t.Any], field: str) -> t.Any:
    if spec is None:
        return None
    if spec == "node_api":
        return READ_CASES[f"{case['base_name']}__node_api"]["expect"][field]
    kind, arg = spec
    if kind == "token":
        return TOKENS[arg]["token" if field == "raw" else "payload"]
    if kind == "value":
        return arg
    assert kind == "cookie"
    pairs = (p.partition("=") for p in case["request"]["cookie_header"].split("; "))
    return next(v for n, _, v in pairs if n == arg)


def our_read(case: dict[str, t.Any]) -> tuple[t.Any, t.Any]:
    ours = OUR_READ[case["base_name"]]
    return _resolve(ours.raw, case, "raw"), _resolve(ours.payload, case, "payload")


def _differs(case: dict[str, t.Any]) -> bool:
    return our_read(case) != (case["expect"]["raw"], case["expect"]["payload"])


def _read_id(case: dict[str, t.Any]) -> str:
    rule = OUR_READ[case["base_name"]].rule
    return f"{rule}:{case['name']}" if _differs(case) else case["name"]


def test_every_read_case_has_an_expectation() -> None:
    assert {c["base_name"] for c in DATA["read_cases"]} == set(OUR_READ)


def test_read_differences_are_exactly_these() -> None:
    differ = {name for name, case in READ_CASES.items() if _differs(case)}
    assert differ == READ_DIFFERENCES
    assert all(OUR_READ[READ_CASES[n]["base_name"]].rule for n in differ)


@pytest.mark.parametrize(
    ("case", "recorded_raw", "recorded_payload"),
    [pytest.param(c, c["expect"]["raw"], c["expect"]["payload"], id=_read_id(c)) for c in DATA["read_cases"]],
)
def test_read_case(
    case: dict[str, t.Any],
    recorded_raw: t.Any,
    recorded_payload: t.Any,
    frozen_clock: t.Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``recorded_*`` is what next-auth did in ``case['context']``; ``our_read`` what we do."""
    frozen_clock.now = case["now"]
    apply_env(monkeypatch, case["env"])
    params = case["params"]
    kwargs: dict[str, t.Any] = {"secret": SECRET}
    if "cookieName" in params:
        kwargs["cookie_name"] = params["cookieName"]
    if "secureCookie" in params:
        kwargs["secure_cookie"] = params["secureCookie"]
    request = case["request"]
    headers = request["other_headers"]
    want_raw, want_payload = our_read(case)
    assert (want_raw, want_payload) == (recorded_raw, recorded_payload) or case["name"] in READ_DIFFERENCES
    assert get_token(environ_with(request["cookie_header"], **headers), raw=True, **kwargs) == want_raw
    assert get_token(environ_with(request["cookie_header"], **headers), **kwargs) == want_payload


# --------------------------------------------------------------------------- cookie names

SELECTION = DATA["cookie_name_selection"]
PROBE = SELECTION["probe_cookie_header"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in SELECTION["cases"]])
def test_cookie_name_selection(case: dict[str, t.Any], monkeypatch: pytest.MonkeyPatch) -> None:
    apply_env(monkeypatch, case["env"])
    kwargs: dict[str, t.Any] = {}
    if "secureCookie" in case["params"]:
        kwargs["secure_cookie"] = case["params"]["secureCookie"]
    if "cookieName" in case["params"]:
        kwargs["cookie_name"] = case["params"]["cookieName"]
    # The request's own scheme must not matter when NEXTAUTH_URL or the option decides.
    for scheme in ("http", "https"):
        assert get_token(environ_with(PROBE, scheme), raw=True, **kwargs) == case["expect"]["raw"]


@pytest.mark.parametrize(
    ("env", "scheme", "kwargs", "raw"),
    [
        pytest.param({}, "http", {}, "INSECURE", id="no-url-http-request"),
        pytest.param({}, "https", {}, "SECURE", id="no-url-https-request"),
        # next-auth would read the secure name here (VERCEL set, NEXTAUTH_URL unset).
        pytest.param({"VERCEL": "1"}, "http", {}, "INSECURE", id="ignore-vercel:vercel-http-request"),
        pytest.param({"VERCEL": "1"}, "https", {}, "SECURE", id="vercel-https-request"),
        pytest.param({}, "https", {"secure_cookie": False}, "INSECURE", id="option-beats-request"),
        pytest.param({"NEXTAUTH_URL": "https://x.test"}, "http", {}, "SECURE", id="url-beats-request"),
        pytest.param({}, "https", {"cookie_name": "custom"}, "CUSTOM", id="custom-name-verbatim"),
    ],
)
def test_secure_rule_falls_back_to_the_request_scheme(
    env: dict[str, str], scheme: str, kwargs: dict[str, t.Any], raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_env(monkeypatch, env)
    assert get_token(environ_with(PROBE, scheme), raw=True, **kwargs) == raw


# --------------------------------------------------------------------------- candidates


@settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, cookies.MAX_CHUNKS + 3))
def test_session_values_offers_shorter_runs_after_the_full_one(n: int) -> None:
    jar = MultiDict([(f"s.{i}", chr(65 + i)) for i in reversed(range(n))] + [("s", "bare")])
    values = cookies.session_values(jar, "s")
    full = "".join(chr(65 + i) for i in range(min(n, cookies.MAX_CHUNKS)))
    assert values == [full, "bare"] + [full[:k] for k in range(len(full) - 1, 0, -1)]


def test_duplicate_chunks_offer_every_assembly_beside_the_bare_cookies() -> None:
    jar = MultiDict([("s.0", "A"), ("s.1", "B"), ("s.1", "X"), ("s", "bare"), ("s.0", "A")])
    assert cookies.session_values(jar, "s") == ["AB", "AX", "bare"]


def test_more_assemblies_than_the_bound_are_no_session() -> None:
    pairs = [(f"s.{i}", value) for i in range(5) for value in ("A", "B")]  # 2**5 = 32 ways
    assert 2**5 > cookies.MAX_ASSEMBLIES
    assert cookies.session_values(MultiDict([*pairs, ("s", "bare")]), "s") == []


@pytest.mark.parametrize(
    ("header", "hidden"),
    [
        pytest.param('a="x; s=1; b=y"; s=2', True, id="quoted-across-the-cookie"),
        pytest.param('a="x; s.0=1; b=y"', True, id="quoted-across-a-chunk"),
        pytest.param('s="1"; a="x y"', False, id="quoted-values-that-hide-nothing"),
        pytest.param("s=1; s.0=2; t=3", False, id="no-quote"),
        pytest.param('a="x; t=1; b=y"; s=2', False, id="hides-another-cookie"),
        pytest.param("", False, id="empty"),
    ],
)
def test_hides_session_cookie(header: str, hidden: bool) -> None:
    assert cookies.hides_session_cookie(header, parse_cookie(header), "s") is hidden


def test_session_values_percent_decodes_like_next() -> None:
    jar = parse_cookie("s=a%2Eb; s=%zz; s=%E0%A4%A; s=")
    assert cookies.session_values(jar, "s") == ["a.b", "%zz", "%E0%A4%A"]


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(CookieSpec("next-auth.session-token"), id="default"),
        pytest.param(
            CookieSpec("__Secure-next-auth.session-token", secure=True, same_site="strict"), id="secure"
        ),
        pytest.param(
            CookieSpec("s", path="/a b;c", domain=".Example.com:8080", http_only=False, same_site=None),
            id="domain-path",
        ),
        pytest.param(CookieSpec("s", domain="bücher.de", same_site="none", secure=True), id="idna"),
    ],
)
@pytest.mark.parametrize(
    ("expires", "max_age"),
    [(None, None), (1700000000.25, None), (None, 0), (1700000000, 5)],
)
@pytest.mark.parametrize("value", ["eyJhbGciOi.x-_", "", 'a"b', "é", "a%20b"])
def test_set_cookie_header_is_dump_cookie_byte_for_byte(
    spec: CookieSpec, expires: float | None, max_age: int | None, value: str
) -> None:
    """The attributes written once a spec give exactly what werkzeug's dump_cookie writes."""

    from werkzeug.http import dump_cookie

    from flask_authguard.core.http.cookies import set_cookie_header

    when = None if expires is None else dt.datetime.fromtimestamp(expires, dt.timezone.utc)
    for name in (None, spec.name + ".1"):
        want = dump_cookie(
            name or spec.name,
            value,
            max_age=max_age,
            expires=when,
            path=spec.path,
            domain=spec.domain,
            secure=spec.secure,
            httponly=spec.http_only,
            samesite=spec.same_site,
            sync_expires=False,
            max_size=0,
        )
        assert set_cookie_header(spec, value, name=name, expires=expires, max_age=max_age) == want


@settings(max_examples=500, deadline=None)
@given(
    st.text(max_size=40)
    | st.text(st.sampled_from(string.ascii_letters + string.digits + "-_.!~*'()%/+="), max_size=40)
)
def test_values_are_encoded_as_encode_uri_component_does(value: str) -> None:
    from urllib.parse import quote

    from flask_authguard.core.http.cookies import encode_value

    assert encode_value(value) == quote(value, safe="-_.!~*'()")


# -- properties: chunk reassembly ---------------------------------------------------------------

NAME = "next-auth.session-token"


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
