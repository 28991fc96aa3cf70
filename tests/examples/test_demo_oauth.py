"""The demo with OAuth (issue 13): buttons only when the env vars are set, a full sign-in through
the local OIDC provider with the test client, and headless Chromium doing the same for real."""

from __future__ import annotations

import pathlib
import sys
import typing as t
from urllib.parse import urlsplit

import pytest
from support.demo import DEMO, browser, demo, running_demo  # noqa: F401 - browser: a fixture
from support.oauth_flow import consent, start
from support.webdriver import Browser

if t.TYPE_CHECKING:
    from support.oidc_server import OIDCServer

CLAIMS = {"email": "olga@example.com", "name": "Olga OIDC"}


def test_demo_without_env_has_no_oauth_buttons(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_ID", "GITHUB_SECRET", "GOOGLE_ID", "GOOGLE_SECRET", "OIDC_ISSUER", "OIDC_ID"):
        monkeypatch.delenv(name, raising=False)
    client = demo.create_app().test_client()
    # (and passkeys: the test extra installs py_webauthn and SQLAlchemy)
    assert list(client.get("/api/auth/providers").get_json()) == ["credentials", "passkey"]


def test_demo_shows_buttons_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ID", "gh-id")
    monkeypatch.setenv("GITHUB_SECRET", "gh-secret")
    monkeypatch.setenv("GOOGLE_ID", "g-id")
    monkeypatch.setenv("GOOGLE_SECRET", "g-secret")
    client = demo.create_app().test_client()
    assert list(client.get("/api/auth/providers").get_json()) == [
        "credentials",
        "github",
        "google",
        "passkey",
    ]
    page = client.get("/api/auth/signin").get_data(as_text=True)
    assert "Sign in with GitHub" in page and "Sign in with Google" in page
    # No network needed to start or to show the page; the first step goes to GitHub.
    begun = start(t.cast(t.Any, client), "github")
    assert begun.headers["Location"].startswith("https://github.com/login/oauth/authorize?")


def _oidc_env(monkeypatch: pytest.MonkeyPatch, idp: OIDCServer) -> None:
    monkeypatch.setenv("OIDC_ISSUER", idp.issuer)
    monkeypatch.setenv("OIDC_ID", "demo-client")
    monkeypatch.setenv("OIDC_SECRET", "demo-secret")
    monkeypatch.setenv("OIDC_NAME", "Local OIDC")


def test_demo_signs_in_through_the_local_oidc_provider(
    monkeypatch: pytest.MonkeyPatch, idp: OIDCServer
) -> None:
    _oidc_env(monkeypatch, idp)
    idp.scenario(claims=CLAIMS)
    client = demo.create_app().test_client()
    begun = start(t.cast(t.Any, client), "oidc", "/dashboard")
    redirect = consent(begun.headers["Location"])
    parts = urlsplit(redirect)
    done = client.get(f"{parts.path}?{parts.query}")
    assert done.headers["Location"] == "http://localhost/dashboard"
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200 and b"Welcome, Olga OIDC!" in dashboard.data
    assert client.get("/api/me").get_json()["user"]["email"] == "olga@example.com"


def test_browser_signs_in_to_the_demo_through_oidc(
    browser: Browser,  # noqa: F811 - the fixture imported above
    idp: OIDCServer,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _oidc_env(monkeypatch, idp)
    idp.scenario(claims=CLAIMS)
    with running_demo([sys.executable, str(DEMO), "--port", "0"], tmp_path / "demo.log") as process:
        browser.get(process.url + "dashboard")
        browser.wait_path("/api/auth/signin")
        browser.screenshot("signin-page")
        assert "Sign in with Local OIDC" in browser.source()
        browser.click(f'form[action="{process.url}api/auth/signin/oidc"] button')
        browser.wait_path("/dashboard")
        browser.screenshot("dashboard")
        assert "Welcome, Olga OIDC!" in browser.text("body")
        names = {c["name"] for c in browser.cookies()}
        assert "next-auth.session-token" in names
        assert not names & {"next-auth.state", "next-auth.pkce.code_verifier", "next-auth.nonce"}
