"""The per-request shortcuts answer exactly as the general code they stand in for."""

from __future__ import annotations

import typing as t

import pytest
from werkzeug.datastructures import Headers

from flask_authguard.wsgi.caching import _private_headers, make_private

HEADER_LISTS: list[list[tuple[str, t.Any]]] = [
    [],
    [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "5")],
    [("Location", "http://x/y"), ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "0")],
    [("Vary", "Accept-Encoding")],
    [("vary", "cookie")],
    [("VARY", "*"), ("X", "1")],
    [("Cache-Control", "public, max-age=60, s-maxage=600")],
    [("cache-control", "no-store")],
    [("Cache-Control", "private, max-age=5"), ("Vary", "Origin"), ("Vary", "Cookie")],
    [("Content-Length", 5)],  # not a string: werkzeug converts it
    [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
]


@pytest.mark.parametrize("headers", HEADER_LISTS)
def test_private_headers_match_the_general_path(headers: list[tuple[str, t.Any]]) -> None:
    general = Headers(headers)
    make_private(general)
    assert _private_headers(list(headers)) == general.to_wsgi_list()


@pytest.mark.parametrize("value", ["a\nb", "a\rb"])
def test_private_headers_refuse_newlines_as_werkzeug_does(value: str) -> None:
    with pytest.raises(ValueError):
        _private_headers([("X-Bad", value)])


def _run(app: t.Any, environ: dict[str, t.Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    seen: list[t.Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> None:
        seen.extend((status, headers))

    body = b"".join(app(environ, start_response))
    return seen[0], list(seen[1]), body


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize(
    "location",
    [
        "http://localhost:5000/api/auth/signin?callbackUrl=%2Fdashboard",
        "/login?src=mw&callbackUrl=%2Fa%2Fb%3Fq%3D1",
        "http://xn--n3h.example/p\u00e5th?q=\u00e8ry",
        "https://sso.example.com:8443/signin?x=1&callbackUrl=%2F",
    ],
)
def test_redirect_is_the_response_it_replaces(method: str, location: str) -> None:
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Response

    from flask_authguard.wsgi.middleware import Redirect

    environ = EnvironBuilder(path="/x", method=method).get_environ()
    expected = _run(Response(status=307, headers={"Location": location}), environ)
    redirect = Redirect(location)
    assert _run(redirect, environ) == expected
    assert _run(redirect, environ) == expected  # reused
    assert _run(redirect.to_response(), environ) == expected


def test_sign_in_redirects_are_kept_apart_by_what_the_url_is_made_of() -> None:
    from werkzeug.test import EnvironBuilder

    from flask_authguard.wsgi import middleware
    from flask_authguard.wsgi.middleware import AuthCore

    core = AuthCore({"secret": "s" * 32})
    requests = [
        {"path": "/a", "base_url": "http://one.example/"},
        {"path": "/a", "base_url": "http://two.example/"},
        {"path": "/a", "base_url": "https://one.example/"},
        {"path": "/a", "base_url": "http://one.example/app"},
        {"path": "/a", "base_url": "http://one.example/", "query_string": "q=1"},
        {"path": "/b", "base_url": "http://one.example/"},
    ]
    locations = set()
    for _ in range(2):  # the second time from the cache
        for kwargs in requests:
            environ = EnvironBuilder(**kwargs).get_environ()
            status, headers, _ = _run(core.deny(environ, None), environ)
            assert status.startswith("307")
            locations.add(dict(headers)["Location"])
    assert len(locations) == len(requests)
    for i in range(middleware.REDIRECT_CACHE_SIZE + 5):  # bounded
        core.deny(EnvironBuilder(path=f"/p{i}").get_environ(), None)
    assert len(core._redirects) <= middleware.REDIRECT_CACHE_SIZE


def test_redirect_as_a_flask_response_is_the_same_answer() -> None:
    from flask import Flask
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Response

    from flask_authguard.wsgi.middleware import Redirect

    location = "http://localhost/api/auth/signin?callbackUrl=%2Fdashboard"
    environ = EnvironBuilder(path="/dashboard").get_environ()
    as_flask = Redirect(location).to_response(Flask("x").response_class)
    assert _run(as_flask, environ) == _run(Response(status=307, headers={"Location": location}), environ)
