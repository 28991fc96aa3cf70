"""The private-cache headers (:mod:`flask_authguard.guard.caching`): the list fast path answers
as werkzeug ``Headers`` do."""

from __future__ import annotations

import typing as t

import pytest
from werkzeug.datastructures import Headers

from flask_authguard.guard.caching import make_private, private_headers

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
    # names of the very lengths the shortcut looks closer at (4 and 13), in any case
    [("Date", "Mon"), ("ETag", '"x"'), ("Accept-Ranges", "bytes"), ("Last-Modified", "Mon")],
    [("ETag", '"x"'), ("CACHE-CONTROL", "max-age=1"), ("vAry", "Origin")],
    # not printable, but no line break: werkzeug keeps these values as they are
    [("X-Tab", "a\tb"), ("X-Nul", "a\x00b"), ("X-Text", "caf\u00e9 \u2028")],
]


@pytest.mark.parametrize("headers", HEADER_LISTS)
def test_private_headers_match_the_general_path(headers: list[tuple[str, t.Any]]) -> None:
    general = Headers(headers)
    make_private(general)
    assert private_headers(list(headers)) == general.to_wsgi_list()


@pytest.mark.parametrize("value", ["a\nb", "a\rb"])
def test_private_headers_refuse_newlines_as_werkzeug_does(value: str) -> None:
    with pytest.raises(ValueError):
        private_headers([("X-Bad", value)])


@pytest.mark.parametrize(
    ("cache_control", "made"),
    [
        pytest.param('public, s-maxage=600, private="Set-Cookie"', "private", id="qualified-private"),
        pytest.param("private, max-age=5", "private, max-age=5", id="bare-private-kept"),
        pytest.param("no-store", "no-store", id="no-store-kept"),
        pytest.param("public, max-age=60", "max-age=60, private", id="public"),
    ],
)
def test_a_checked_response_is_private_whole(cache_control: str, made: str) -> None:
    """A ``private`` qualified with field names leaves the rest storable by a shared cache
    (RFC 9111 5.2.2.7): it does not count as private; ``public`` and ``s-maxage`` go."""
    headers = Headers([("Cache-Control", cache_control)])
    make_private(headers)
    assert headers["Cache-Control"] == made
    listed = dict(private_headers([("Cache-Control", cache_control)]))
    assert listed["Cache-Control"] == made
