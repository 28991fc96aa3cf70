"""Safe links (:mod:`flask_authguard.core.defences.urls`): ``safe_redirect`` answers the site's
own URL for every target that would leave it, and keeps the ones that stay (the auth routes'
use of it: tests/endpoints/test_handler.py); ``link_origin``, the origin every absolute link is
built on, and ``mount_path``, the mount a relative link keeps (the front ends' use of both:
tests/core/defences/test_hosts.py)."""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

import pytest
from conftest import SECRET
from hypothesis import given
from hypothesis import strategies as st
from support.properties import BOUNDED
from support.redirects import ATTACKS, BASE, SAFE
from werkzeug.test import EnvironBuilder

from flask_authguard.core.defences.urls import (
    acceptable,
    checked_target,
    link_origin,
    mount_path,
    safe_redirect,
)
from flask_authguard.core.settings.config import resolve_options


@pytest.mark.parametrize("url", ATTACKS)
def test_safe_redirect_refuses(url: str) -> None:
    assert safe_redirect(url, BASE) == BASE


@pytest.mark.parametrize("url, expected", SAFE)
def test_safe_redirect_allows(url: str, expected: str) -> None:
    assert safe_redirect(url, BASE) == expected


@pytest.mark.parametrize("value", [None, 1, ["/x"], {"url": "/x"}, b"/x"])
def test_safe_redirect_non_strings(value: t.Any) -> None:
    assert safe_redirect(value, BASE) == BASE


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("/\ud800", id="path"),
        pytest.param(f"{BASE}/x\udfff", id="same-origin"),
        pytest.param("/a?b=\udc80", id="query"),
    ],
)
def test_a_url_holding_a_lone_surrogate_is_refused(url: str) -> None:
    """No UTF-8 spelling exists for it (JSON can carry one: ``"\\ud800"``)."""
    assert not acceptable(url)
    assert safe_redirect(url, BASE) == BASE
    assert checked_target(url, BASE) is None


def test_characters_beyond_the_bmp_are_kept() -> None:
    assert safe_redirect("/\U0001f600", BASE) == f"{BASE}/%F0%9F%98%80"


#: https, where the app of support.handler_app is http: the property keeps its own origin.
HTTPS_BASE = "https://app.example.com"
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
    out = safe_redirect(url, HTTPS_BASE)
    parts = urlsplit(out)
    assert f"{parts.scheme}://{parts.netloc}" == HTTPS_BASE
    assert out.isascii() and not any(c in out for c in "\r\n\t\\ ")


# --------------------------------------------------------------------------- link_origin, mount_path

EVIL = "evil.example"


def _environ(host: str, scheme: str = "http") -> dict[str, t.Any]:
    environ = EnvironBuilder(base_url=f"{scheme}://localhost").get_environ()
    environ["HTTP_HOST"] = host
    return environ


@pytest.mark.parametrize(
    ("options", "host", "origin"),
    [
        pytest.param({"url": "https://app.example.com/api/auth"}, EVIL, "https://app.example.com", id="url"),
        pytest.param({"url": "app.example.com"}, EVIL, "https://app.example.com", id="url-no-scheme"),
        pytest.param(
            {"trusted_hosts": [".example.com"]},
            "a.example.com:8080",
            "http://a.example.com:8080",
            id="listed",
        ),
        pytest.param({"trust_host": True}, EVIL, f"http://{EVIL}", id="trust-host"),
        pytest.param({}, "localhost:3000", "http://localhost:3000", id="localhost"),
        pytest.param({}, "app.localhost", "http://app.localhost", id="dot-localhost"),
        pytest.param({}, "127.0.0.2", "http://127.0.0.2", id="loopback-v4"),
        pytest.param({}, "[::1]:8000", "http://[::1]:8000", id="loopback-v6"),
        pytest.param({}, EVIL, None, id="untrusted"),
        pytest.param({}, "localhost.evil.example", None, id="lookalike"),
        pytest.param({}, "10.0.0.5", None, id="private-address"),
    ],
)
def test_link_origin(options: dict[str, t.Any], host: str, origin: str | None) -> None:
    assert link_origin(resolve_options({"secret": SECRET, **options}), _environ(host)) == origin


def test_link_origin_refuses_an_unlisted_host_even_with_url() -> None:
    from werkzeug.exceptions import BadRequest, SecurityError

    config = resolve_options({"secret": SECRET, "url": BASE, "trusted_hosts": ["app.example.com"]})
    with pytest.raises(SecurityError):
        link_origin(config, _environ(EVIL))
    with pytest.raises(BadRequest):
        link_origin(resolve_options({"secret": SECRET}), _environ("a b"))


@pytest.mark.parametrize(
    ("script", "path"),
    [
        ("", ""),
        ("/", ""),
        ("/app", "/app"),
        ("/app/", "/app"),
        (".evil.example", "/.evil.example"),
        (":443@evil.example", "/:443@evil.example"),
        ("//evil.example", "/evil.example"),
        ("/\\evil.example", "/%5Cevil.example"),
        ("/a b?c#d", "/a%20b%3Fc%23d"),
    ],
)
def test_mount_path(script: str, path: str) -> None:
    assert mount_path(script) == path
