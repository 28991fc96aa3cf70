"""The prepared 307 (:class:`flask_authguard.guard.answers.Redirect`) is the answer werkzeug's
``Response`` gives, and the sign-in redirects kept per request shape stay apart."""

from __future__ import annotations

import typing as t

import pytest
from werkzeug.datastructures import Headers


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

    from flask_authguard.guard import decision as middleware
    from flask_authguard.wsgi.middleware import AuthCore

    core = AuthCore({"secret": "s" * 32, "trust_host": True})  # the hosts give the links their origin
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


def _plain_redirect(location: str) -> t.Any:
    from werkzeug.wrappers import Response

    return Response(status=307, headers={"Location": location})


@pytest.mark.parametrize(
    "change",
    ["none", "location", "iri-location", "header", "set-data", "body-by-hand", "status", "autocorrect"],
)
def test_prepared_redirect_is_sent_as_werkzeug_sends_it_whatever_was_changed(change: str) -> None:
    """The Flask 307 is sent with the headers werkzeug made for it the first time only while
    nothing changed it; after any change werkzeug makes them again."""
    from flask import Flask
    from werkzeug.test import EnvironBuilder

    from flask_authguard.guard.answers import Redirect

    location = "http://localhost/api/auth/signin?callbackUrl=%2Fdashboard"
    redirect = Redirect(location)
    cls = Flask("x").response_class
    environ = EnvironBuilder(path="/dashboard").get_environ()

    def changed(response: t.Any) -> t.Any:
        if change == "location":
            response.headers["Location"] = "http://localhost/elsewhere"
        elif change == "iri-location":
            response.headers["Location"] = "http://localhost/ünïcode?q=é"
        elif change == "header":
            response.headers["X-Frame-Options"] = "DENY"
        elif change == "set-data":
            response.set_data(b"moved")
        elif change == "body-by-hand":
            response.response = [b"moved"]
        elif change == "status":
            response.status_code = 302
        elif change == "autocorrect":
            response.autocorrect_location_header = True
        return response

    for _ in range(3):  # the first send prepares, the next ones reuse (or must not)
        _run(redirect.to_response(cls), environ)
        expected = changed(_plain_redirect(location))
        assert _run(changed(redirect.to_response(cls)), environ) == _run(expected, environ)


def test_prepared_redirect_keeps_a_response_class_that_makes_its_own_headers() -> None:
    from flask import Flask
    from werkzeug.test import EnvironBuilder

    from flask_authguard.guard.answers import Redirect

    class Stamped(Flask.response_class):
        def get_wsgi_headers(self, environ: t.Any) -> Headers:
            headers = super().get_wsgi_headers(environ)
            headers["X-Path"] = environ["PATH_INFO"]
            return headers

    redirect = Redirect("http://localhost/api/auth/signin")
    for path in ("/a", "/b"):
        response = redirect.to_response(Stamped)
        assert type(response) is Stamped
        _, headers, _ = _run(response, EnvironBuilder(path=path).get_environ())
        assert dict(headers)["X-Path"] == path
