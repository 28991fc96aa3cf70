"""Safe links (:mod:`flask_authguard.core.defences.urls`): ``safe_redirect`` answers the site's
own URL for every target that would leave it, and keeps the ones that stay (the auth routes'
use of it: tests/endpoints/test_handler.py; ``link_origin`` and ``mount_path``:
tests/core/defences/test_hosts.py)."""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.properties import BOUNDED
from support.redirects import ATTACKS, BASE, SAFE

from flask_authguard.core.defences.urls import safe_redirect


@pytest.mark.parametrize("url", ATTACKS)
def test_safe_redirect_refuses(url: str) -> None:
    assert safe_redirect(url, BASE) == BASE


@pytest.mark.parametrize("url, expected", SAFE)
def test_safe_redirect_allows(url: str, expected: str) -> None:
    assert safe_redirect(url, BASE) == expected


@pytest.mark.parametrize("value", [None, 1, ["/x"], {"url": "/x"}, b"/x"])
def test_safe_redirect_non_strings(value: t.Any) -> None:
    assert safe_redirect(value, BASE) == BASE


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
