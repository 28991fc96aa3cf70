"""Redirect targets an attacker tries and targets that stay on the site: shared by the tests of
``safe_redirect`` (tests/core/defences/test_urls.py) and of the auth routes that use it
(tests/endpoints/test_handler.py)."""

from __future__ import annotations

import pytest

from support.handler_app import BASE

#: Targets that must be refused (the site's base URL is answered instead).
ATTACKS = [
    pytest.param("//evil.com", id="protocol-relative"),
    pytest.param("//evil.com/path", id="protocol-relative-path"),
    pytest.param("///evil.com", id="triple-slash"),
    pytest.param("/\\evil.com", id="slash-backslash"),
    pytest.param("\\\\evil.com", id="double-backslash"),
    pytest.param("\\/evil.com", id="backslash-slash"),
    pytest.param("/\\/evil.com", id="slash-backslash-slash"),
    pytest.param("https://evil.com", id="other-origin"),
    pytest.param("http://evil.com/x?y=1", id="other-origin-http"),
    pytest.param("https://app.example.com", id="other-scheme"),
    pytest.param("http://app.example.com:8080/", id="other-port"),
    pytest.param("https://app.example.com.evil.com", id="lookalike-suffix"),
    pytest.param("http://app.example.com.evil.com/", id="lookalike-suffix-http"),
    pytest.param("http://app.example.com@evil.com", id="userinfo"),
    pytest.param("http://app.example.com:80@evil.com/", id="userinfo-port"),
    pytest.param("http://evil.com#@app.example.com", id="fragment-at"),
    pytest.param("http://evil.com\\@app.example.com", id="backslash-at"),
    pytest.param("javascript:alert(1)", id="javascript"),
    pytest.param("JaVaScRiPt:alert(1)", id="javascript-case"),
    pytest.param("java\tscript:alert(1)", id="javascript-tab"),
    pytest.param(" javascript:alert(1)", id="javascript-leading-space"),
    pytest.param("data:text/html,<script>alert(1)</script>", id="data"),
    pytest.param("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", id="data-base64"),
    pytest.param("vbscript:msgbox(1)", id="vbscript"),
    pytest.param("file:///etc/passwd", id="file"),
    pytest.param("ftp://app.example.com/", id="ftp-same-host"),
    pytest.param("/\t/evil.com", id="tab-inside"),
    pytest.param("/\n/evil.com", id="newline-inside"),
    pytest.param("/\r\n/evil.com", id="crlf-inside"),
    pytest.param("\t//evil.com", id="leading-tab"),
    pytest.param(" //evil.com", id="leading-space"),
    pytest.param("/ /evil.com", id="space-inside"),
    pytest.param("/x\r\nSet-Cookie: a=b", id="header-injection"),
    pytest.param("/\x00/evil.com", id="nul"),
    pytest.param("/\x85/evil.com", id="c1-control"),
    pytest.param("%2F%2Fevil.com", id="encoded-slashes"),
    pytest.param("evil.com", id="bare-host"),
    pytest.param("https:evil.com", id="scheme-no-slashes"),
    pytest.param("https:/evil.com", id="scheme-one-slash"),
    pytest.param("http:\\\\evil.com", id="scheme-backslashes"),
    pytest.param("?next=//evil.com", id="query-only"),
    pytest.param("#//evil.com", id="fragment-only"),
    pytest.param("http://[::1", id="unparseable"),
    pytest.param("", id="empty"),
    pytest.param("/" + "a" * 5000, id="too-long"),
]
#: Targets on the site, and the URL ``safe_redirect`` gives for each.
SAFE = [
    pytest.param("/private", f"{BASE}/private", id="path"),
    pytest.param("/", f"{BASE}/", id="root"),
    pytest.param("/private?a=1&b=%2F#top", f"{BASE}/private?a=1&b=%2F#top", id="query-fragment"),
    pytest.param("/%2F%2Fevil.com", f"{BASE}/%2F%2Fevil.com", id="encoded-slashes-in-path"),
    pytest.param("/@evil.com", f"{BASE}/@evil.com", id="at-in-path"),
    pytest.param(f"{BASE}/private", f"{BASE}/private", id="same-origin"),
    pytest.param(BASE, BASE, id="same-origin-bare"),
    pytest.param(f"{BASE}#@evil.com", f"{BASE}#@evil.com", id="same-origin-fragment-at"),
    pytest.param("/caf\u00e9", f"{BASE}/caf%C3%A9", id="unicode-encoded"),
]

__all__ = ["ATTACKS", "BASE", "SAFE"]
