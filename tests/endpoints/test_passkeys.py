"""The passkey pages: the sign-in page's button and script, the passkeys page (list, add,
remove), the script route, and the pages' CSP (scripts from the site's own origin only)."""

from __future__ import annotations

import re
import typing as t

import pytest

pytest.importorskip("webauthn", reason='py_webauthn is not installed: pip install -e ".[test]"')
from support.passkey_app import ORIGIN, SECRET, Site  # noqa: E402
from support.soft_authenticator import SoftAuthenticator  # noqa: E402
from werkzeug.test import Client  # noqa: E402

from flask_authguard import CredentialsProvider, with_auth  # noqa: E402


def scripts(html: str) -> list[tuple[str, str]]:
    """``(attributes, body)`` of every ``<script>`` element."""
    return re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)


def assert_no_inline_script(response: t.Any) -> None:
    html = response.get_data(as_text=True)
    for attributes, body in scripts(html):
        assert 'src="' in attributes and not body.strip(), attributes
    assert not re.search(r"<[^>]+\son[a-z]+=", html)  # no inline event handlers either
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


@pytest.fixture
def site() -> Site:
    return Site("flask", "jwt")


def test_the_sign_in_page_offers_a_passkey_with_its_own_script(site: Site) -> None:
    response = site.client.get("/api/auth/signin")
    html = response.get_data(as_text=True)
    assert scripts(html) == [(f' src="{ORIGIN}/api/auth/passkey.js" defer', "")]
    assert_no_inline_script(response)
    form = re.search(r'<form id="passkey-form"[^>]*>', html)
    assert form is not None
    assert f'action="{ORIGIN}/api/auth/callback/passkey"' in form.group(0)
    assert 'data-passkey="authenticate"' in form.group(0) and " hidden" in form.group(0)
    assert "Sign in with a passkey" in html
    assert f'id="passkeys-link" href="{ORIGIN}/api/auth/passkeys"' in html


def test_the_sign_out_page_links_the_passkeys_page(site: Site) -> None:
    html = site.client.get("/api/auth/signout").get_data(as_text=True)
    assert f'id="passkeys-link" href="{ORIGIN}/api/auth/passkeys"' in html
    assert "<script" not in html


def test_the_script_is_served_from_the_package(site: Site) -> None:
    response = site.client.get("/api/auth/passkey.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.get_data(as_text=True)
    assert "navigator.credentials.get" in body and "navigator.credentials.create" in body
    assert "http://" not in body and "https://" not in body  # loads nothing from elsewhere (no CDN)


def test_without_a_passkey_provider_the_routes_are_unknown() -> None:
    def authorize(**kwargs: t.Any) -> None:
        return None

    options = {"secret": SECRET, "url": ORIGIN, "providers": [CredentialsProvider(authorize=authorize)]}
    client = Client(with_auth(lambda e, s: [], options=options))
    for path in ("/api/auth/passkeys", "/api/auth/passkey.js", "/api/auth/webauthn-options/credentials"):
        assert client.get(path).status_code == 400, path
    page = client.get("/api/auth/signin")
    assert "<script" not in page.get_data(as_text=True) and "passkeys-link" not in page.get_data(as_text=True)


def test_the_passkeys_page_asks_anonymous_visitors_to_sign_in(site: Site) -> None:
    response = site.client.get("/api/auth/passkeys")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{ORIGIN}/api/auth/signin?callbackUrl=")
    assert "passkeys" in location


def test_the_passkeys_page_lists_adds_and_removes(site: Site) -> None:
    site.sign_in_with_password("alice")
    empty = site.client.get("/api/auth/passkeys?callbackUrl=/account")
    html = empty.get_data(as_text=True)
    assert empty.status_code == 200 and 'id="no-passkeys"' in html
    assert "Signed in as alice@example.com" in html
    assert scripts(html) == [(f' src="{ORIGIN}/api/auth/passkey.js" defer', "")]
    assert_no_inline_script(empty)
    assert 'data-passkey="register"' in html and 'id="add-passkey"' in html
    assert f'id="continue-link" href="{ORIGIN}/account"' in html
    assert site.register(SoftAuthenticator()).status_code == 302
    listed = site.client.get("/api/auth/passkeys").get_data(as_text=True)
    assert listed.count('class="passkey"') == 1 and "synced" in listed and "internal, hybrid" in listed


def test_removal_needs_the_csrf_token_and_the_owner(site: Site) -> None:
    site.sign_in_with_password("alice")
    site.register(SoftAuthenticator())
    alice = site.adapter.get_user_by_email("alice@example.com")
    assert alice is not None
    (record,) = site.adapter.list_authenticators_by_user_id(alice["id"])
    response = site.client.post("/api/auth/passkeys", data={"credentialID": record["credentialID"]})
    assert response.status_code == 302 and "csrf=true" in response.headers["Location"]
    site.sign_out()
    site.sign_in_with_password("bob")
    response = site.client.post(
        "/api/auth/passkeys", data={"csrfToken": site.csrf(), "credentialID": record["credentialID"]}
    )
    assert response.status_code == 302 and "removed" not in response.headers["Location"]
    assert site.adapter.get_authenticator(record["credentialID"]) is not None
    for bad in ({}, {"credentialID": ""}, {"credentialID": "\x00"}):
        response = site.client.post("/api/auth/passkeys", data={"csrfToken": site.csrf(), **bad})
        assert response.status_code == 302 and "removed" not in response.headers["Location"]


def test_an_error_code_shows_its_message(site: Site) -> None:
    site.sign_in_with_password("alice")
    html = site.client.get("/api/auth/passkeys?error=PasskeyExists").get_data(as_text=True)
    assert "This passkey is registered already." in html
    html = site.client.get("/api/auth/passkeys?error=%3Cb%3E").get_data(as_text=True)
    assert 'id="passkeys-error"' not in html and "<b>" not in html


def test_a_refused_passkey_sign_in_lands_on_the_sign_in_page_with_a_message(site: Site) -> None:
    response = site.client.get("/api/auth/error?error=WebAuthnVerificationError")
    assert response.status_code == 302
    page = site.client.get(response.headers["Location"].removeprefix(ORIGIN))
    assert "The passkey could not be verified." in page.get_data(as_text=True)
