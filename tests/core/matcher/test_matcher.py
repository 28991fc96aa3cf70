"""Next.js ``config.matcher`` semantics: the documented examples, conditions, errors."""

from __future__ import annotations

import re
import typing as t

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.properties import BOUNDED

from flask_authguard.core.errors import ConfigurationError
from flask_authguard.core.matcher import Matcher, compile_matcher

#: The Next.js docs' "match everything but" example, with the robots/sitemap variant.
NEGATIVE = "/((?!api|_next/static|_next/image|favicon.ico|sitemap.xml|robots.txt).*)"

PATH_CASES = [
    # matcher: '/about/:path*' (Next.js docs): zero or more segments after /about
    pytest.param("/about/:path*", "/about", True, id="about-star-bare"),
    pytest.param("/about/:path*", "/about/", True, id="about-star-trailing-slash"),
    pytest.param("/about/:path*", "/about/a", True, id="about-star-one"),
    pytest.param("/about/:path*", "/about/a/b/c", True, id="about-star-many"),
    pytest.param("/about/:path*", "/aboutus", False, id="about-star-not-prefix"),
    pytest.param("/about/:path*", "/About", False, id="about-star-case-sensitive"),
    pytest.param("/about/:path*", "/x/about", False, id="about-star-anchored-start"),
    pytest.param("/about/:path*", "/about//", False, id="about-star-empty-segment"),
    pytest.param("/dashboard/:path*", "/dashboard/settings/profile", True, id="dashboard-star"),
    pytest.param("/dashboard/:path*", "/", False, id="dashboard-star-root"),
    # list form: either pattern
    pytest.param(["/about/:path*", "/dashboard/:path*"], "/about/team", True, id="list-first"),
    pytest.param(["/about/:path*", "/dashboard/:path*"], "/dashboard", True, id="list-second"),
    pytest.param(["/about/:path*", "/dashboard/:path*"], "/blog", False, id="list-neither"),
    # a plain named parameter is exactly one segment
    pytest.param("/about/:path", "/about/a", True, id="param-one"),
    pytest.param("/about/:path", "/about/a/c", False, id="param-not-two"),
    pytest.param("/about/:path", "/about", False, id="param-required"),
    # :param? zero or one, :param+ one or more
    pytest.param("/about/:path?", "/about", True, id="optional-none"),
    pytest.param("/about/:path?", "/about/a", True, id="optional-one"),
    pytest.param("/about/:path?", "/about/a/b", False, id="optional-not-two"),
    pytest.param("/about/:path+", "/about", False, id="plus-none"),
    pytest.param("/about/:path+", "/about/a", True, id="plus-one"),
    pytest.param("/about/:path+", "/about/a/b/c", True, id="plus-many"),
    # custom parameter expressions
    pytest.param("/post/:id(\\d+)", "/post/123", True, id="regex-param-digits"),
    pytest.param("/post/:id(\\d+)", "/post/abc", False, id="regex-param-letters"),
    pytest.param("/post/:id(\\d+)", "/post/١٢٣", False, id="regex-param-ascii-digits-only"),
    pytest.param("/post/:id(\\d+)*", "/post/1/2/3", True, id="regex-param-repeated"),
    pytest.param("/post/:id(\\d+)*", "/post/1/x", False, id="regex-param-repeated-mismatch"),
    pytest.param("/(about|settings)", "/settings", True, id="unnamed-alternation"),
    pytest.param("/(about|settings)", "/blog", False, id="unnamed-alternation-miss"),
    pytest.param("/user-(a|b)", "/user-b", True, id="unnamed-after-text"),
    # '/about/(.*)' needs the slash after /about, unlike '/about/:path*'
    pytest.param("/about/(.*)", "/about/a/b", True, id="wildcard-many"),
    pytest.param("/about/(.*)", "/about/", True, id="wildcard-empty"),
    pytest.param("/about/(.*)", "/about", False, id="wildcard-needs-slash"),
    # the negative lookahead "everything but" matcher
    pytest.param(NEGATIVE, "/", True, id="negative-root"),
    pytest.param(NEGATIVE, "/dashboard", True, id="negative-page"),
    pytest.param(NEGATIVE, "/dashboard/a/b", True, id="negative-deep"),
    pytest.param(NEGATIVE, "/api/users", False, id="negative-api"),
    pytest.param(NEGATIVE, "/apiary", False, id="negative-api-prefix-quirk"),
    pytest.param(NEGATIVE, "/_next/static/chunk.js", False, id="negative-next-static"),
    pytest.param(NEGATIVE, "/_next/image", False, id="negative-next-image"),
    pytest.param(NEGATIVE, "/favicon.ico", False, id="negative-favicon"),
    pytest.param(NEGATIVE, "/sitemap.xml", False, id="negative-sitemap"),
    pytest.param(NEGATIVE, "/robots.txt", False, id="negative-robots"),
    pytest.param(NEGATIVE, "/secret\nx", True, id="negative-decoded-newline-still-matches"),
    # decoded '?' and '#' do not end a segment (Next.js sees them percent-encoded)
    pytest.param("/dashboard/:path*", "/dashboard/a?b", True, id="decoded-question-mark"),
    pytest.param("/dashboard/:path*", "/dashboard/a#b", True, id="decoded-hash"),
    # optional group, dot prefix, escapes, root
    pytest.param("/users{/:id}?/edit", "/users/edit", True, id="group-optional-absent"),
    pytest.param("/users{/:id}?/edit", "/users/7/edit", True, id="group-optional-present"),
    pytest.param("/files/:name.:ext", "/files/report.pdf", True, id="dot-prefix"),
    pytest.param("/files/:name.:ext", "/files/report", False, id="dot-prefix-required"),
    pytest.param("/files/:name.:ext*", "/files/a.tar.gz", True, id="dot-prefix-repeated"),
    pytest.param("/price\\*", "/price*", True, id="escaped-modifier"),
    pytest.param("/price\\*", "/prices", False, id="escaped-modifier-literal"),
    pytest.param("/a.b", "/aXb", False, id="literal-dot-is-literal"),
    pytest.param("/", "/", True, id="root"),
    pytest.param("/", "/about", False, id="root-only"),
    pytest.param("/", "", True, id="empty-path-is-root"),
    # single string and single mapping forms
    pytest.param({"source": "/about/:path*"}, "/about/x", True, id="mapping-without-conditions"),
    pytest.param({"source": "/about", "locale": False}, "/about", True, id="mapping-locale-false"),
    pytest.param("/((?<section>docs|blog))/:slug", "/blog/hello", True, id="js-named-group"),
    # the path is decoded text: a non-ASCII entry matches it as written
    pytest.param("/café/:path*", "/café/menu", True, id="non-ascii-literal"),
    pytest.param("/straße", "/straße/", True, id="non-ascii-literal-trailing-slash"),
    pytest.param("/café/:path*", "/cafe/menu", False, id="non-ascii-literal-exact"),
    pytest.param("/:lang/über", "/de/über", True, id="non-ascii-after-a-param"),
    # percent-escapes in an entry's text are decoded at start-up: both spellings are one entry
    pytest.param("/caf%C3%A9/:path*", "/café/menu", True, id="escaped-entry-decoded"),
    pytest.param("/caf%c3%a9", "/café", True, id="escaped-entry-lower-case-hex"),
    pytest.param("/caf%C3%A9/:path*", "/caf%C3%A9/menu", False, id="escaped-entry-not-literal"),
    pytest.param("/a%20b", "/a b", True, id="escaped-space"),
    pytest.param("/100%25", "/100%", True, id="escaped-percent"),
    pytest.param("/a%2Fb", "/a/b", True, id="escaped-slash-is-a-slash"),
    pytest.param("/%3Aid", "/:id", True, id="escaped-colon-is-text-not-a-parameter"),
    pytest.param("/%3Aid", "/x", False, id="escaped-colon-matches-no-segment"),
    pytest.param("/a%2A", "/a*", True, id="escaped-star-is-text-not-a-modifier"),
    pytest.param("/a%2A", "/a", False, id="escaped-star-makes-nothing-optional"),
    pytest.param("/x{/caf%C3%A9}?", "/x/café", True, id="escaped-in-a-group"),
    pytest.param(r"/100\%25", "/100%25", True, id="backslash-keeps-a-literal-percent"),
    pytest.param("/x%FF", "/x\ufffd", True, id="escape-not-utf8-read-as-a-request-path-is"),
    pytest.param("/50%", "/50%", True, id="lone-percent-is-text"),
    pytest.param("/50%zz", "/50%zz", True, id="percent-without-hex-is-text"),
]


@pytest.mark.parametrize(("patterns", "path", "expected"), PATH_CASES)
def test_path_patterns(patterns: t.Any, path: str, expected: bool) -> None:
    assert Matcher(patterns).matches(path) is expected


def test_none_matches_everything() -> None:
    matcher = Matcher(None)
    assert matcher.match_all
    assert all(matcher.matches(p) for p in ("/", "/api/x", "/_next/static/a.js", ""))
    assert compile_matcher(None).matches("/anything")


def test_empty_list_matches_nothing() -> None:
    matcher = Matcher([])
    assert not matcher.match_all
    assert matcher.regex is None and matcher.conditional == ()
    assert not any(matcher.matches(p, {}) for p in ("/", "/about", ""))


def test_compile_matcher_is_idempotent() -> None:
    matcher = compile_matcher("/about/:path*")
    assert compile_matcher(matcher) is matcher
    assert matcher("/about/x")  # callable like matches()
    assert repr(matcher) == "Matcher(['/about/:path*'])"


def test_hundred_patterns_share_one_regex() -> None:
    patterns = [f"/section{i}/:path*" for i in range(100)]
    matcher = Matcher(patterns)
    assert isinstance(matcher.regex, re.Pattern)
    assert matcher.conditional == ()
    assert matcher.sources == tuple(patterns)
    assert matcher.matches("/section0") and matcher.matches("/section99/a/b")
    assert matcher.matches("/section57/x")
    assert not matcher.matches("/section100")


def test_duplicate_patterns_are_compiled_once() -> None:
    matcher = Matcher(["/a/:p*", "/a/:p*", "/b"])
    assert matcher.regex is not None
    assert matcher.regex.pattern.count("(?:/a") == 1


def test_conditional_entries_are_kept_apart() -> None:
    matcher = Matcher(["/about", {"source": "/api/:path*", "has": [{"type": "query", "key": "x"}]}])
    assert matcher.regex is not None and matcher.regex.fullmatch("/about")
    assert [e.source for e in matcher.conditional] == ["/api/:path*"]


def environ(
    *,
    headers: t.Mapping[str, str] | None = None,
    cookie: str | None = None,
    query: str = "",
    host: str | None = "example.com",
) -> dict[str, t.Any]:
    """A minimal WSGI environ with the given request parts."""
    env: dict[str, t.Any] = {"REQUEST_METHOD": "GET", "QUERY_STRING": query}
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        env[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    if cookie is not None:
        env["HTTP_COOKIE"] = cookie
    if host is not None:
        env["HTTP_HOST"] = host
    return env


#: The Next.js docs' has/missing example.
API_ENTRY = {
    "source": "/api/:path*",
    "has": [
        {"type": "header", "key": "Authorization", "value": "Bearer Token"},
        {"type": "query", "key": "userId", "value": "123"},
    ],
    "missing": [{"type": "cookie", "key": "session", "value": "active"}],
}
AUTH = {"authorization": "Bearer Token"}

#: The Next.js docs' prefetch example: skip router prefetches.
PREFETCH_ENTRY = {
    "source": "/((?!api|_next/static|_next/image|favicon.ico).*)",
    "missing": [
        {"type": "header", "key": "next-router-prefetch"},
        {"type": "header", "key": "purpose", "value": "prefetch"},
    ],
}

CONDITION_CASES = [
    pytest.param(API_ENTRY, "/api/data", environ(headers=AUTH, query="userId=123"), True, id="docs-all-hold"),
    pytest.param(API_ENTRY, "/api", environ(headers=AUTH, query="userId=123"), True, id="docs-bare-api"),
    pytest.param(API_ENTRY, "/other", environ(headers=AUTH, query="userId=123"), False, id="docs-wrong-path"),
    pytest.param(API_ENTRY, "/api/data", environ(query="userId=123"), False, id="docs-no-header"),
    pytest.param(
        API_ENTRY,
        "/api/data",
        environ(headers={"AUTHORIZATION": "Bearer Token"}, query="userId=123"),
        True,
        id="docs-header-name-case-insensitive",
    ),
    pytest.param(
        API_ENTRY,
        "/api/data",
        environ(headers={"authorization": "bearer token"}, query="userId=123"),
        False,
        id="docs-header-value-case-sensitive",
    ),
    pytest.param(
        API_ENTRY,
        "/api/data",
        environ(headers={"authorization": "Bearer Tokens"}, query="userId=123"),
        False,
        id="docs-header-value-full-match",
    ),
    pytest.param(
        API_ENTRY, "/api/data", environ(headers=AUTH, query="userId=1234"), False, id="docs-query-other"
    ),
    pytest.param(API_ENTRY, "/api/data", environ(headers=AUTH), False, id="docs-query-absent"),
    pytest.param(
        API_ENTRY,
        "/api/data",
        environ(headers=AUTH, query="userId=9&userId=123"),
        True,
        id="docs-query-last-wins",
    ),
    pytest.param(
        API_ENTRY,
        "/api/data",
        environ(headers=AUTH, query="userId=123", cookie="session=active"),
        False,
        id="docs-missing-cookie-present",
    ),
    pytest.param(
        API_ENTRY,
        "/api/data",
        environ(headers=AUTH, query="userId=123", cookie="session=expired; a=b"),
        True,
        id="docs-missing-cookie-other-value",
    ),
    pytest.param(API_ENTRY, "/api/data", None, False, id="docs-no-environ"),
    pytest.param(PREFETCH_ENTRY, "/dashboard", environ(), True, id="prefetch-normal-request"),
    pytest.param(
        PREFETCH_ENTRY,
        "/dashboard",
        environ(headers={"Next-Router-Prefetch": "1"}),
        False,
        id="prefetch-router",
    ),
    pytest.param(
        PREFETCH_ENTRY, "/dashboard", environ(headers={"Purpose": "prefetch"}), False, id="prefetch-purpose"
    ),
    pytest.param(
        PREFETCH_ENTRY,
        "/dashboard",
        environ(headers={"Purpose": "prefetching"}),
        True,
        id="prefetch-other-purpose",
    ),
    pytest.param(PREFETCH_ENTRY, "/dashboard", None, True, id="prefetch-no-environ"),
    pytest.param(
        {"source": "/:path*", "has": [{"type": "header", "key": "x-present"}]},
        "/a",
        environ(headers={"x-present": ""}),
        False,
        id="header-empty-counts-as-absent",
    ),
    pytest.param(
        {
            "source": "/upload",
            "has": [{"type": "header", "key": "Content-Type", "value": "application/json"}],
        },
        "/upload",
        environ(headers={"Content-Type": "application/json"}),
        True,
        id="header-content-type",
    ),
    pytest.param(
        {"source": "/:path*", "has": [{"type": "cookie", "key": "authorized", "value": "true"}]},
        "/x",
        environ(cookie='theme=dark; authorized="true"'),
        True,
        id="cookie-quoted-value",
    ),
    pytest.param(
        {"source": "/:path*", "has": [{"type": "cookie", "key": "authorized"}]},
        "/x",
        environ(cookie="theme=dark"),
        False,
        id="cookie-absent",
    ),
    pytest.param(
        {"source": "/:path*", "has": [{"type": "query", "key": "page", "value": "home|about"}]},
        "/x",
        environ(query="page=aboutx"),
        False,
        id="query-alternation-anchored-whole",
    ),
    pytest.param(
        {"source": "/:path*", "has": [{"type": "query", "key": "q", "value": "a b"}]},
        "/x",
        environ(query="q=a+b"),
        True,
        id="query-decoded",
    ),
    pytest.param(
        {"source": "/:path*", "has": [{"type": "query", "key": "q"}]},
        "/x",
        environ(query="q="),
        False,
        id="query-empty-counts-as-absent",
    ),
    pytest.param(
        {"source": "/:path*", "has": [{"type": "host", "value": "example.com"}]},
        "/x",
        environ(host="Example.COM:8443"),
        True,
        id="host-port-and-case",
    ),
    pytest.param(
        {"source": "/:path*", "has": [{"type": "host", "value": "example.com"}]},
        "/x",
        environ(host="www.example.com"),
        False,
        id="host-anchored",
    ),
    pytest.param(
        {"source": "/:path*", "has": [{"type": "host", "value": "(?<sub>[^.]+)\\.example\\.com"}]},
        "/x",
        environ(host="app.example.com"),
        True,
        id="host-js-named-group",
    ),
    pytest.param(
        {"source": "/:path*", "missing": [{"type": "host", "value": "\\[::1\\]"}]},
        "/x",
        environ(host="[::1]:5000"),
        False,
        id="host-ipv6",
    ),
    pytest.param(
        {"source": "/:path*", "has": [{"type": "host", "value": "example.com"}]},
        "/x",
        environ(host=None),
        False,
        id="host-absent",
    ),
]


@pytest.mark.parametrize(("entry", "path", "env", "expected"), CONDITION_CASES)
def test_conditions(entry: t.Any, path: str, env: dict[str, t.Any] | None, expected: bool) -> None:
    assert Matcher([entry]).matches(path, env) is expected


def test_plain_and_conditional_entries_combine() -> None:
    matcher = Matcher(["/dashboard/:path*", API_ENTRY])
    assert matcher.matches("/dashboard/x")
    assert not matcher.matches("/api/data", environ())
    assert matcher.matches("/api/data", environ(headers=AUTH, query="userId=123"))


INVALID_CASES = [
    pytest.param("/(abc", "unbalanced", id="unbalanced-open"),
    pytest.param("/a/(b)c)", "unbalanced", id="unbalanced-close"),
    pytest.param("/(a[)", "not a valid regular expression", id="paren-closes-inside-class"),
    pytest.param("/(?<n>a)", "cannot start with '?'", id="top-level-named-group"),
    pytest.param("/((a))", "capturing group", id="nested-capturing-group"),
    pytest.param("/(?:a)", "cannot start with '?'", id="group-starts-with-question"),
    pytest.param("/a/((?P<x>b))", "named groups", id="python-named-group"),
    pytest.param("/()", "empty pattern", id="empty-group"),
    pytest.param("/([a-)", "not a valid regular expression", id="bad-regex"),
    pytest.param("/:id(\\d+", "unbalanced", id="param-regex-unbalanced"),
    pytest.param("/:", "missing parameter name", id="colon-without-name"),
    pytest.param("/:a:b", "text between", id="adjacent-parameters"),
    pytest.param("/foo*", "unexpected '*'", id="bare-modifier"),
    pytest.param("/a{/b", "expected '}'", id="unclosed-brace"),
    pytest.param("/a}", "unexpected '}'", id="stray-brace"),
    pytest.param("/a\\", "backslash", id="trailing-backslash"),
    pytest.param("/files-(\\d+)*", "without a prefix", id="repeat-without-separator"),
    pytest.param("/:path(.*)*/edit", "backtracks exponentially", id="ambiguous-repeat"),
    pytest.param("about/:path*", "must start with '/'", id="no-leading-slash"),
    pytest.param("", "must start with '/'", id="empty-string"),
]


@pytest.mark.parametrize(("pattern", "reason"), INVALID_CASES)
def test_invalid_patterns_name_the_pattern(pattern: str, reason: str) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        Matcher(["/fine/:path*", pattern])
    message = str(excinfo.value)
    assert repr(pattern) in message
    assert reason in message


INVALID_ENTRIES = [
    pytest.param(42, "expected a path pattern", id="not-str-or-mapping"),
    pytest.param({"has": []}, "'source' must be a string", id="no-source"),
    pytest.param({"source": 5}, "'source' must be a string", id="source-not-str"),
    pytest.param({"source": "/a", "sorce": "/b"}, "unknown key(s) sorce", id="unknown-entry-key"),
    pytest.param({"source": "/a", "locale": True}, "'locale'", id="locale-true"),
    pytest.param(
        {"source": "/a", "has": {"type": "query", "key": "x"}}, "list of conditions", id="has-not-list"
    ),
    pytest.param({"source": "/a", "has": ["x"]}, "expected {'type'", id="condition-not-mapping"),
    pytest.param(
        {"source": "/a", "has": [{"type": "ip", "key": "x"}]}, "type must be one of", id="unknown-type"
    ),
    pytest.param(
        {"source": "/a", "has": [{"type": "header", "key": 1}]}, "non-empty string key", id="key-not-str"
    ),
    pytest.param({"source": "/a", "missing": [{"type": "cookie"}]}, "non-empty string key", id="key-missing"),
    pytest.param({"source": "/a", "has": [{"type": "host"}]}, "needs a value", id="host-without-value"),
    pytest.param(
        {"source": "/a", "has": [{"type": "query", "key": "x", "value": 1}]},
        "value must be",
        id="value-not-str",
    ),
    pytest.param(
        {"source": "/a", "has": [{"type": "query", "key": "x", "value": "(a"}]},
        "not a valid regular expression",
        id="value-bad-regex",
    ),
    pytest.param(
        {"source": "/a", "has": [{"type": "query", "key": "x", "vaule": "a"}]},
        "unknown key(s) vaule",
        id="unknown-condition-key",
    ),
]


@pytest.mark.parametrize(("entry", "reason"), INVALID_ENTRIES)
def test_invalid_entries(entry: t.Any, reason: str) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        Matcher([entry])
    message = str(excinfo.value)
    assert reason in message
    source = entry.get("source") if isinstance(entry, dict) else None
    assert repr(source if isinstance(source, str) else entry) in message


@pytest.mark.parametrize("patterns", [42, b"/about", {"/about"}], ids=["int", "bytes", "set"])
def test_invalid_container(patterns: t.Any) -> None:
    with pytest.raises(ConfigurationError, match="matcher must be"):
        Matcher(patterns)


def test_safe_forms_do_not_backtrack_badly() -> None:
    """Long hostile paths against the built-in forms finish at once (no timing asserted:
    an exponential regex would simply never return)."""
    matcher = Matcher(["/files/:name.:ext*/x", "/a/:path*/edit", "/:a-:b/end"])
    assert not matcher.matches("/files/f" + ".a" * 5000)
    assert not matcher.matches("/a" + "/b" * 5000)
    assert not matcher.matches("/" + "a-" * 5000)


# -- properties: the matcher never raises --------------------------------------------------------


@BOUNDED
@given(st.text(max_size=80), st.text(max_size=80))
def test_the_matcher_never_raises_on_any_path_or_pattern(pattern: str, path: str) -> None:
    try:
        matcher = compile_matcher([pattern])
    except ConfigurationError:
        return
    assert isinstance(matcher.matches(path), bool)
