"""Matching stays linear in the path length: hostile paths finish, super-linear patterns are refused.

No timing is asserted: the hostile matches run in a child process with a generous deadline, and a
pattern that backtracks super-linearly on a 16 KB path would need hours (the patterns the checks
refuse took 35-60 s on 4 KB before), so "it finished" is the whole claim.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import textwrap
import typing as t

import pytest
from conftest import SECRET
from werkzeug.test import Client
from werkzeug.wrappers import Response

from flask_authguard import ConfigurationError, with_auth
from flask_authguard.core.matcher import Matcher
from flask_authguard.core.matcher.compiled import to_regex
from flask_authguard.core.matcher.parse import FLAGS, parse
from flask_authguard.core.matcher.safety import simplify

#: Hostile shapes, each about 16 KB: runs of the characters patterns split on, with a bad ending.
HOSTILE = [
    "/" * 16384,
    "/a" * 8192,
    "/" + "a/" * 8191,
    "/" + "-" * 16384,
    "/" + "a-" * 8192,
    "/" + "a." * 8192,
    "/f/" + ".a" * 8192 + ".",
    "/" + "1" * 16384,
    "/x" * 8192 + "y",
    "/" + "a" * 16384,
]

#: Patterns that stay allowed, among them the issue's shapes made safe and the built-in forms.
ALLOWED = [
    "/(.*)/x",
    "/(.*)/:id/x",
    "/:id([^/]+)/(.*)/x",
    "/about/:path*",
    "/a/:path*/edit",
    "/a/:path+/edit",
    "/:a/:b/:c/x",
    "/:a-:b/end",
    "/:a.:b.:c/x",
    "/files/:name.:ext*/x",
    "/files/:name.:ext+/x",
    "/f/:name.:ext?/x",
    "/:a{.:b}*/x",
    "/post/:id(\\d+)*/x",
    "/(\\d+)-(\\d+)/x",
    "/:a(\\w+)-:b(\\w+)/x",
    "/:p((?:a|b)+)/x",
    "/(a.*b)/x",
    "/users{/:id}?/edit",
    "/((?!api|_next/static|_next/image|favicon.ico).*)",
    "/((?!api).*)/x",
    "/(.*-?)/x",
    "/:ip((?:\\d+\\.){3}\\d+)",
    "/:v((?:\\d+\\.){1,3}\\d+)/x",
    "/:id((?:ab|cd)(?:ab|cd){1,5})",
]

CHILD = textwrap.dedent(
    """
    import json, sys
    from flask_authguard.core.matcher import Matcher
    patterns, paths = json.load(sys.stdin)
    matcher = Matcher(patterns)
    for path in paths:
        matcher.matches(path)
        matcher.matches(path + "/zz")
    print("done")
    """
)


def run_child(code: str, payload: t.Any, timeout: float) -> bool:
    """Whether ``code`` finished within ``timeout`` seconds in a fresh interpreter."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.stdout.strip() == "done"


@pytest.mark.parametrize("pattern", ALLOWED)
def test_allowed_patterns_are_accepted(pattern: str) -> None:
    assert Matcher(pattern).sources == (pattern,)


def test_hostile_paths_finish_against_every_allowed_pattern() -> None:
    # One entry each (so the one alternation is exercised too) and every pattern alone.
    assert run_child(CHILD, [ALLOWED, HOSTILE], timeout=60)


def test_the_harness_catches_backtracking() -> None:
    """The same child with the pre-fix regex of the issue's pattern does not finish: the check
    above would fail if matching were super-linear."""
    code = textwrap.dedent(
        """
        import json, re, sys
        patterns, paths = json.load(sys.stdin)
        regex = re.compile(patterns[0], re.ASCII | re.DOTALL)
        for path in paths:
            regex.fullmatch(path)
        print("done")
        """
    )
    assert not run_child(code, [[r"/(?:.*)/(?:.*)/(?:.*)/x/?"], ["/" * 4096]], timeout=2)


REFUSED = [
    pytest.param("/(.*)/(.*)/(.*)/x", "n**3", id="issue-three-wildcards"),
    pytest.param("/:a*/:b*/:c*/x", "n**3", id="issue-three-repeats"),
    pytest.param("/(.*)/(.*)/x", "n**2", id="two-wildcards"),
    pytest.param("/:a*/:b*/x", "n**2", id="two-repeats"),
    pytest.param("/:a+/:b+", "n**2", id="two-plus-repeats"),
    pytest.param("/:a*/(.*)/x", "n**2", id="repeat-then-wildcard"),
    pytest.param("/(.*)/:rest*", "n**2", id="wildcard-then-repeat"),
    pytest.param("/(.*)-(.*)/x", "n**2", id="adjacent-wildcards"),
    pytest.param("/(.*a.*)/x", "n**2", id="wildcards-in-one-group"),
    pytest.param("/:f([^/]+\\.[^/]+)/x", "n**2", id="overlapping-segment-repeats"),
    pytest.param("/:x([a-z.]+).:y([a-z.]+)/x", "n**2", id="overlapping-custom-params"),
    pytest.param("/:p(\\d+\\d+)*", "n**2", id="overlap-inside-repeated-param"),
    pytest.param("/:p((?=.*x)[^/]+)*", "n**2", id="lookahead-rerun-by-each-repetition"),
    pytest.param("/((?:a+)+)/x", "exponentially", id="nested-repeat"),
    pytest.param("/((?:a|aa)+)/x", "exponentially", id="repeated-alternatives"),
    pytest.param("/:id((?:\\d+-)*)/x", "exponentially", id="repeated-group-with-repeat"),
]


@pytest.mark.parametrize(("pattern", "reason"), REFUSED)
def test_super_linear_patterns_are_refused(pattern: str, reason: str) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        Matcher(["/fine/:path*", pattern])
    message = str(excinfo.value)
    assert repr(pattern) in message
    assert reason in message
    # and it says what to do
    assert "single characters" in message if reason == "exponentially" else "make the others stop" in message


def test_refusal_names_the_parts() -> None:
    with pytest.raises(ConfigurationError, match=re.escape("(in ':a*', ':b*', ':c*')")):
        Matcher("/:a*/:b*/:c*/x")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("(a+)+b", "exponentially"),
        ("(.*),(.*)", "n**2"),
        ("Bearer (.*) (.*)", "n**2"),
        ("(?i)[a-z]+[A-Z]+", "n**2"),
    ],
    ids=["nested", "two-wildcards", "bearer-two-wildcards", "ignore-case-overlap"],
)
def test_super_linear_condition_values_are_refused(value: str, reason: str) -> None:
    entry = {"source": "/api/:path*", "has": [{"type": "header", "key": "x-test", "value": value}]}
    with pytest.raises(ConfigurationError) as excinfo:
        Matcher([entry])
    message = str(excinfo.value)
    assert "'/api/:path*'" in message and repr(value) in message and reason in message


def test_hostile_header_against_a_condition_value_finishes() -> None:
    code = textwrap.dedent(
        """
        import json, sys
        from flask_authguard.core.matcher import Matcher
        entry, headers = json.load(sys.stdin)
        matcher = Matcher([entry])
        for header in headers:
            matcher.matches("/api/x", {"HTTP_AUTHORIZATION": header})
        print("done")
        """
    )
    entry = {
        "source": "/api/:path*",
        "has": [{"type": "header", "key": "Authorization", "value": "Bearer (.*)x"}],
    }
    assert run_child(code, [entry, ["Bearer " + " " * 16384, "Bearer " + "Bearer " * 4096]], timeout=60)


@pytest.mark.parametrize(
    "source",
    [
        "/:name.:ext*",
        "/:name.:ext?",
        "/:name.:ext+",
        "/a/:name.:ext+/x",
        "/:name{-:ext}+",
        "/:name{-:ext}*/x",
    ],
)
def test_simplified_tail_matches_the_same_paths(source: str) -> None:
    """``:name`` then an optional ``.ext`` tail is compiled without the tail: every short path over
    the relevant characters gets the same answer from both expressions."""
    tokens = parse(source)
    simplified = simplify(list(tokens))
    assert simplified != tokens
    original = re.compile(to_regex(tokens), FLAGS)
    short = re.compile(to_regex(simplified), FLAGS)
    for length in range(8):
        for chars in itertools.product("a.-/x", repeat=length):
            path = "/" + "".join(chars)
            assert bool(original.fullmatch(path)) is bool(short.fullmatch(path)), path


def test_missing_condition_is_client_controlled() -> None:
    """A ``missing`` header rule is a routing convenience: the client who sends the header turns the
    protection off (as the docs say, never use conditions for security decisions)."""

    def app(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        return Response("secret page")(environ, start_response)

    entry = {"source": "/admin/:path*", "missing": [{"type": "header", "key": "x-skip"}]}
    client = Client(with_auth(app, {"secret": SECRET}, matcher=[entry]))
    assert client.get("/admin/users").status_code == 307  # protected: sent to sign in
    flipped = client.get("/admin/users", headers={"X-Skip": "1"})
    assert flipped.status_code == 200 and flipped.get_data() == b"secret page"
    # the same with a query `has` rule
    entry = {"source": "/admin/:path*", "has": [{"type": "query", "key": "protect"}]}
    client = Client(with_auth(app, {"secret": SECRET}, matcher=[entry]))
    assert client.get("/admin/users?protect=1").status_code == 307
    assert client.get("/admin/users").status_code == 200
