"""Passkeys in Chromium on the demo (``examples/demo``): a virtual authenticator (the DevTools
protocol's ``WebAuthn`` domain: CTAP2, internal transport, resident keys, user verification)
stands in for the platform's, and the built-in pages and their script do the rest: alice adds
a passkey while signed in, signs out, signs in with the passkey alone, removes it, and the
removed passkey no longer signs in.

Driven like ``test_browser.py`` (Debian's chromium and chromedriver, skipped without them except
under ``CI=true``); the demo answers on ``localhost``, the only loopback name browsers accept as
a relying-party id.
"""

from __future__ import annotations

import json
import pathlib
import sys
import typing as t

import pytest

pytest.importorskip("webauthn", reason='py_webauthn is not installed: pip install -e ".[test]"')
pyotp = pytest.importorskip("pyotp", reason='the demo\'s second factor needs pip install -e ".[test]"')
from support.demo import DEMO, browser, demo, running_demo  # noqa: E402, F401 - browser: a fixture
from support.webdriver import Browser  # noqa: E402
from support.webdriver import wait_for as _wait_for  # noqa: E402

ALICE = ("alice", demo.DEMO_CREDENTIALS["alice"][0])


def add_virtual_authenticator(browser: Browser) -> str:
    browser.cdp("WebAuthn.enable", {"enableUI": False})
    answer = browser.cdp(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return t.cast(str, answer["authenticatorId"])


def credentials(browser: Browser, authenticator: str) -> list[dict[str, t.Any]]:
    answer = browser.cdp("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    return t.cast("list[dict[str, t.Any]]", answer["credentials"])


def sign_in_with_password(browser: Browser, base: str, username: str, password: str) -> None:
    browser.get(base + "api/auth/signin?callbackUrl=%2Fdashboard")
    browser.type("#input-credentials-username", username)
    browser.type("#input-credentials-password", password)
    browser.click("form[action$='/api/auth/callback/credentials'] button[type=submit]")
    if username == "alice":  # her authenticator app: the demo's second factor
        browser.wait_path("/api/auth/two-factor/verify")
        browser.type("#input-code", pyotp.TOTP(demo.DEMO_TOTP_SECRET).now())
        browser.click("form[action$='/api/auth/two-factor/verify'] button[type=submit]")
    browser.wait_path("/dashboard")


def sign_out(browser: Browser, base: str) -> None:
    browser.get(base + "api/auth/signout")
    browser.click("form[action$='/api/auth/signout'] button[type=submit]")
    _wait_for(
        lambda: browser.execute("return document.body.innerText.includes('not signed in')"), "signed out"
    )


def test_a_passkey_on_alices_account_in_chromium(browser: Browser, tmp_path: pathlib.Path) -> None:
    with running_demo([sys.executable, str(DEMO), "--port", "0"], tmp_path / "demo.log") as process:
        base = process.url.replace("127.0.0.1", "localhost")
        assert "Passkeys: open http://localhost:" in process.output()
        authenticator = add_virtual_authenticator(browser)

        # Signed in with a password, alice adds a passkey from the passkeys page.
        sign_in_with_password(browser, base, *ALICE)
        browser.click("#passkeys-nav")
        browser.wait_path("/api/auth/passkeys")
        assert browser.text("#no-passkeys") == "No passkey yet."
        browser.screenshot("passkeys-page-empty")
        browser.click("#add-passkey")
        _wait_for(
            lambda: browser.execute("return document.querySelectorAll('li.passkey').length") == 1,
            "the new passkey",
        )
        browser.screenshot("passkey-added")
        (credential,) = credentials(browser, authenticator)
        assert credential["isResidentCredential"] is True and credential["rpId"] == "localhost"
        count_after_registration = credential["signCount"]

        # Signed out, she signs in with the passkey alone: no username, no password.
        sign_out(browser, base)
        browser.get(base + "api/auth/signin?callbackUrl=%2Fdashboard")
        _wait_for(
            lambda: browser.execute("return !document.getElementById('passkey-form').hidden"),
            "the passkey button",
        )
        browser.screenshot("sign-in-page-with-passkey")
        browser.click("#passkey-signin")
        browser.wait_path("/dashboard")
        assert browser.text("#who") == "Alice"
        assert "Your role is admin" in browser.text("#welcome")
        browser.screenshot("signed-in-with-passkey")
        (credential,) = credentials(browser, authenticator)
        assert credential["signCount"] > count_after_registration

        # She removes it; the browser still holds it, but the site no longer accepts it.
        browser.click("#passkeys-nav")
        browser.wait_path("/api/auth/passkeys")
        browser.click("button.remove-passkey")
        _wait_for(lambda: "removed=1" in browser.url, "the removal")
        assert browser.text("#no-passkeys") == "No passkey yet."
        browser.screenshot("passkey-removed")
        sign_out(browser, base)
        browser.get(base + "api/auth/signin?callbackUrl=%2Fdashboard")
        _wait_for(
            lambda: browser.execute("return !document.getElementById('passkey-form').hidden"),
            "the passkey button",
        )
        browser.click("#passkey-signin")
        _wait_for(lambda: "error=WebAuthnVerificationError" in browser.url, "the refusal")
        assert "The passkey could not be verified" in browser.text("#signin-error")
        browser.screenshot("removed-passkey-refused")
        browser.get(base + "api/auth/session")
        assert browser.execute("return document.body.innerText.trim()") == "{}"


def test_a_passkey_on_alices_account_with_the_test_client() -> None:
    """The same walk without a browser: a software authenticator answers the demo's options."""
    from support.soft_authenticator import SoftAuthenticator

    client = demo.create_app().test_client()
    origin = "http://localhost"

    def csrf() -> str:
        return t.cast(str, client.get("/api/auth/csrf").get_json()["csrfToken"])

    def ceremony(action: str, authenticator: SoftAuthenticator) -> t.Any:
        options = client.get(f"/api/auth/webauthn-options/passkey?action={action}").get_json()
        assert options["action"] == action
        answer = getattr(authenticator, action)(options["options"], origin)
        body = {
            "csrfToken": csrf(),
            "action": action,
            "data": json.dumps(answer),
            "callbackUrl": "/dashboard",
        }
        return client.post("/api/auth/callback/passkey", data=body)

    held = client.post(
        "/api/auth/callback/credentials",
        data={"csrfToken": csrf(), "username": ALICE[0], "password": ALICE[1], "callbackUrl": "/"},
    )
    assert held.headers["Location"] == origin + "/api/auth/two-factor/verify"  # her authenticator app
    code = pyotp.TOTP(demo.DEMO_TOTP_SECRET).now()
    client.post("/api/auth/two-factor/verify", data={"csrfToken": csrf(), "code": code})
    authenticator = SoftAuthenticator()
    assert ceremony("register", authenticator).headers["Location"] == origin + "/dashboard"
    assert "Passkeys" in client.get("/dashboard").get_data(as_text=True)
    client.post("/api/auth/signout", data={"csrfToken": csrf()})
    assert client.get("/api/me").status_code == 401
    assert ceremony("authenticate", authenticator).headers["Location"] == origin + "/dashboard"
    me = client.get("/api/me").get_json()
    assert me["user"]["email"] == "alice@example.com" and me["user"]["role"] == "admin"
    # A passkey is two factors by itself (a device key unlocked by her PIN or biometric): no
    # code after it, and the second-factor page (/admin) lets her in.
    assert client.get("/admin").status_code == 200
