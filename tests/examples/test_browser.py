"""The demo (``examples/demo``), used as a person would.

Two layers:

- the demo's own command (``python examples/demo/app.py`` and ``python -m examples.demo``)
  started as a subprocess on a free port, and the demo walked through with Flask's test client;
- headless Chromium from Debian's packages (``/usr/bin/chromium`` driven through
  ``/usr/bin/chromedriver``) signing in and out of the running demo for real, with a screenshot
  of every step under the test's ``tmp_path``.

The browser is driven over the W3C WebDriver protocol with the standard library
(``tests/support/webdriver.py``: a few JSON calls to chromedriver), so no Python dependency is needed.
Without Chromium or chromedriver the browser test is skipped with the reason, except under
``CI=true``, where it fails: CI must run it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import typing as t
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
from support import ROOT
from support.demo import DEMO, browser, demo, running_demo  # noqa: F401 - browser: a fixture
from support.processes import free_port, stop
from support.webdriver import START_TIMEOUT, Browser
from support.webdriver import wait_for as _wait_for

from flask_authguard import decode

pyotp = pytest.importorskip("pyotp", reason='the demo\'s second factor needs pip install -e ".[two-factor]"')

BOB = ("bob", demo.DEMO_CREDENTIALS["bob"][0])
ALICE = ("alice", demo.DEMO_CREDENTIALS["alice"][0])


# -- the demo's command ---------------------------------------------------------------------


DEMO_COMMANDS = [
    pytest.param([sys.executable, str(DEMO)], id="python-examples-demo-app.py"),
    pytest.param([sys.executable, "-m", "examples.demo"], id="python-m-examples.demo"),
]


@pytest.mark.parametrize("command", DEMO_COMMANDS)
def test_demo_command_starts_and_prints_url_and_credentials(
    command: list[str], tmp_path: pathlib.Path
) -> None:
    with running_demo([*command, "--port", "0"], tmp_path / "demo.log") as process:
        output = process.output()
        for username, (password, role) in demo.DEMO_CREDENTIALS.items():
            assert f"{username} / {password} / {role}" in output
        assert "NEXTAUTH_SECRET" in output  # says the built-in demo secret is in use
        assert f"secret {demo.DEMO_TOTP_SECRET}" in output  # alice's authenticator
        assert "no trusted origin" not in output  # the demo trusts its loopback hosts
        with urllib.request.urlopen(process.url, timeout=10) as response:
            assert response.status == 200
            assert "not signed in" in response.read().decode()
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(process.url + "api/me", timeout=10)
        assert info.value.code == 401
        assert json.loads(info.value.read())["error"] == "Unauthorized"


def test_demo_host_and_port_from_environment(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", str(port))
    with running_demo([sys.executable, str(DEMO)], tmp_path / "demo.log") as process:
        assert process.url == f"http://127.0.0.1:{port}/"


# -- the demo with the test client ----------------------------------------------------------


@pytest.fixture
def demo_client() -> t.Any:
    return demo.create_app().test_client()


def _sign_in(client: t.Any, username: str, password: str, callback_url: str = "/dashboard") -> t.Any:
    csrf = client.get("/api/auth/csrf").get_json()["csrfToken"]
    return client.post(
        "/api/auth/callback/credentials",
        data={"csrfToken": csrf, "username": username, "password": password, "callbackUrl": callback_url},
    )


def test_demo_builds_links_on_its_loopback_hosts_only(
    demo_client: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert demo_client.get("/api/auth/signin").status_code == 200
    assert demo_client.get("/api/auth/signin", headers={"Host": "evil.example"}).status_code == 400
    assert demo_client.get("/dashboard", headers={"Host": "evil.example"}).status_code == 400
    monkeypatch.setenv("AUTH_TRUST_HOST", "true")  # behind a proxy of one's own
    behind_proxy = demo.create_app().test_client()
    assert behind_proxy.get("/api/auth/signin", headers={"Host": "app.example"}).status_code == 200


def test_demo_anonymous(demo_client: t.Any) -> None:
    home = demo_client.get("/")
    assert home.status_code == 200 and b"not signed in" in home.data
    for path in ("/dashboard", "/admin"):
        response = demo_client.get(path)
        assert response.status_code == 307
        location = urlsplit(response.headers["Location"])
        assert location.path == "/api/auth/signin"
        assert parse_qs(location.query)["callbackUrl"] == [path]
    api = demo_client.get("/api/me", headers={"Accept": "text/html"})
    assert api.status_code == 401
    assert api.get_json()["error"] == "Unauthorized"
    assert "WWW-Authenticate" in api.headers


def test_demo_user_sees_dashboard_not_admin(demo_client: t.Any) -> None:
    response = _sign_in(demo_client, *BOB)
    assert response.status_code == 302
    assert response.headers["Location"] == "http://localhost/dashboard"
    dashboard = demo_client.get("/dashboard")
    assert dashboard.status_code == 200
    assert b"Welcome, Bob!" in dashboard.data and b"bob@example.com" in dashboard.data
    assert demo_client.get("/admin").status_code == 403
    me = demo_client.get("/api/me")
    assert me.status_code == 200
    assert me.get_json()["user"] == {"name": "Bob", "email": "bob@example.com", "id": "bob", "role": "user"}


def _alice_code(client: t.Any, code: str | None = None, field: str = "code") -> t.Any:
    """Alice's second factor: a code of the demo's authenticator secret (or ``code``)."""
    csrf = client.get("/api/auth/csrf").get_json()["csrfToken"]
    code = code or pyotp.TOTP(demo.DEMO_TOTP_SECRET).now()
    return client.post("/api/auth/two-factor/verify", data={"csrfToken": csrf, field: code})


def test_demo_admin_sees_admin_after_her_code(demo_client: t.Any) -> None:
    held = _sign_in(demo_client, *ALICE)
    assert (
        held.status_code == 302 and held.headers["Location"] == "http://localhost/api/auth/two-factor/verify"
    )
    assert demo_client.get("/admin").status_code == 307  # waiting for the code is no session
    assert _alice_code(demo_client).headers["Location"] == "http://localhost/dashboard"
    admin = demo_client.get("/admin")
    assert admin.status_code == 200 and b"Demo users" in admin.data
    assert b"password_hash" not in admin.data and b"scrypt" not in admin.data


def test_demo_alice_recovery_code(demo_client: t.Any) -> None:
    _sign_in(demo_client, *ALICE)
    answer = _alice_code(demo_client, demo.DEMO_RECOVERY_CODES[0], field="recovery_code")
    assert answer.headers["Location"] == "http://localhost/dashboard"
    assert demo_client.get("/admin").status_code == 200


def test_demo_bob_turns_on_two_factor(demo_client: t.Any) -> None:
    _sign_in(demo_client, *BOB)
    page = demo_client.get("/api/auth/two-factor").get_data(as_text=True)
    assert "<svg" in page and "otpauth://totp/flask_authguard%20demo:bob%40example.com" in page
    secret = page.split('<code id="secret">', 1)[1].split("<", 1)[0].replace(" ", "")
    csrf = demo_client.get("/api/auth/csrf").get_json()["csrfToken"]
    data = {"csrfToken": csrf, "action": "enable", "code": pyotp.TOTP(secret).now()}
    answer = demo_client.post("/api/auth/two-factor", data=data)
    assert answer.status_code == 200 and answer.get_data(as_text=True).count("<li><code>") == 10


@pytest.mark.parametrize(
    "username, password",
    [
        pytest.param("bob", "wrong", id="wrong-password"),
        pytest.param("mallory", "bob-user-pw", id="unknown-user"),
        pytest.param("bob", "", id="empty-password"),
        pytest.param("alice", BOB[1], id="another-users-password"),
    ],
)
def test_demo_bad_credentials(demo_client: t.Any, username: str, password: str) -> None:
    response = _sign_in(demo_client, username, password)
    assert response.status_code == 302
    assert "error=CredentialsSignin" in response.headers["Location"]
    assert not any("session-token=e" in c for c in response.headers.getlist("Set-Cookie"))
    assert demo_client.get("/api/me").status_code == 401


def test_demo_user_lookup_ignores_case_and_spaces(demo_client: t.Any) -> None:
    assert "/dashboard" in _sign_in(demo_client, "  BOB ", BOB[1]).headers["Location"]


def test_demo_secret_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXTAUTH_SECRET", "my-own-secret-for-the-demo-0123456789")
    client = demo.create_app().test_client()
    response = _sign_in(client, *BOB)
    cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("next-auth.session-token=")
    )
    token = cookie.split(";", 1)[0].split("=", 1)[1]
    assert decode(token=token, secret="my-own-secret-for-the-demo-0123456789")["role"] == "user"
    with pytest.raises(Exception):  # noqa: B017 - any refusal: the demo secret is not in use
        decode(token=token, secret=demo.DEMO_SECRET)


def test_demo_sign_out(demo_client: t.Any) -> None:
    _sign_in(demo_client, *BOB)
    csrf = demo_client.get("/api/auth/csrf").get_json()["csrfToken"]
    response = demo_client.post("/api/auth/signout", data={"csrfToken": csrf})
    assert response.status_code == 302 and response.headers["Location"] == "http://localhost"
    assert demo_client.get("/dashboard").status_code == 307


def test_demo_devices_end_another_device(demo_client: t.Any) -> None:
    laptop = demo.create_app().test_client()
    laptop.environ_base["HTTP_USER_AGENT"] = "Laptop browser"
    demo_client.environ_base["HTTP_USER_AGENT"] = "Phone browser"
    _sign_in(laptop, *BOB)
    _sign_in(demo_client, *BOB)
    page = laptop.get("/devices")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Laptop browser <strong>(this device)</strong>" in html and "Phone browser" in html
    app = laptop.application
    user_sessions = app.extensions["authguard"].guard.list_sessions("bob")
    phone = next(e for e in user_sessions if e["user_agent"] == "Phone browser")
    ended = laptop.post(f"/devices/{phone['id']}/end")
    assert ended.status_code == 303 and ended.headers["Location"] == "/devices"
    assert demo_client.get("/dashboard").status_code == 307  # the phone is signed out
    assert "Phone browser" not in laptop.get("/devices").get_data(as_text=True)


def test_demo_nickname_is_updated_from_the_server(demo_client: t.Any) -> None:
    _sign_in(demo_client, *BOB)
    response = demo_client.post("/dashboard/nickname", data={"nickname": "  Bobby ", "role": "admin"})
    assert response.status_code == 303
    user = demo_client.get("/api/me").get_json()["user"]
    assert user["nickname"] == "Bobby" and user["role"] == "user"  # the role never comes from an update
    assert b'value="Bobby"' in demo_client.get("/dashboard").data
    assert demo_client.get("/admin").status_code == 403


def test_demo_account_asks_for_a_recent_sign_in(demo_client: t.Any, frozen_clock: t.Any) -> None:
    _sign_in(demo_client, *BOB, callback_url="/account")
    assert demo_client.get("/account").status_code == 200
    frozen_clock.now += demo.STEP_UP_MAX_AGE + 1
    response = demo_client.get("/account")
    assert response.status_code == 307
    assert parse_qs(urlsplit(response.headers["Location"]).query) == {
        "callbackUrl": ["/account"],
        "max_age": [str(demo.STEP_UP_MAX_AGE)],
    }
    again = _sign_in(demo_client, *BOB, callback_url="/account")
    assert again.headers["Location"] == "http://localhost/account"
    assert demo_client.get("/account").status_code == 200


# -- headless Chromium -------------------------------------------------------------------------


def _fill_sign_in(browser: Browser, username: str, password: str) -> None:
    browser.type("#input-credentials-username", username)
    browser.type("#input-credentials-password", password)
    browser.click("form[action$='/api/auth/callback/credentials'] button[type=submit]")


def test_demo_in_chromium(browser: Browser, tmp_path: pathlib.Path) -> None:
    with running_demo([sys.executable, str(DEMO), "--port", "0"], tmp_path / "demo.log") as process:
        base = process.url

        # A protected page sends an anonymous visitor to the built-in sign-in page.
        browser.get(base + "dashboard")
        url = browser.wait_path("/api/auth/signin")
        assert parse_qs(urlsplit(url).query)["callbackUrl"] == ["/dashboard"]
        assert browser.text("h1") == "Sign in"
        assert browser.active_element_id() == "input-credentials-username"  # focus starts on the form
        assert browser.text("label[for=input-credentials-password]") == "Password"
        browser.screenshot("sign-in-page")

        # A wrong password: back on the sign-in page with a message.
        _fill_sign_in(browser, BOB[0], "not-the-password")
        _wait_for(lambda: "error=CredentialsSignin" in browser.url, "the sign-in error")
        assert "Sign in failed" in browser.text("[role=alert]")
        assert browser.attribute("#input-credentials-password", "aria-invalid") == "true"
        browser.screenshot("sign-in-failed")

        # The right one: back to the dashboard through callbackUrl (kept in its cookie).
        _fill_sign_in(browser, *BOB)
        browser.wait_path("/dashboard")
        assert browser.text("#welcome") == "Welcome, Bob! Your role is user."
        session = json.loads(browser.text("#session"))
        assert session["user"] == {"name": "Bob", "email": "bob@example.com", "id": "bob", "role": "user"}
        cookies = {c["name"]: c for c in browser.cookies()}
        assert cookies["next-auth.session-token"]["httpOnly"] is True
        browser.screenshot("dashboard")

        # Signed in, but not an admin: 403.
        browser.get(base + "admin")
        assert browser.text("h1") == "Access denied"
        browser.screenshot("admin-forbidden")

        # The JSON API sees the same session.
        browser.get(base + "api/me")
        assert "bob@example.com" in browser.source()
        browser.screenshot("api-me")

        # Sign out through the confirmation page.
        browser.get(base)
        browser.click("#signout-link")
        browser.wait_path("/api/auth/signout")
        assert browser.text("h1") == "Sign out"
        browser.screenshot("sign-out-page")
        browser.click("form[action$='/api/auth/signout'] button[type=submit]")
        browser.wait_path("/")
        assert browser.text("#status").startswith("You are not signed in")
        assert not any(c["name"].startswith("next-auth.session-token") for c in browser.cookies())
        browser.screenshot("signed-out")

        # Protected again.
        browser.get(base + "dashboard")
        browser.wait_path("/api/auth/signin")
        browser.screenshot("protected-again")

        # An admin gets in, after the code of her authenticator app.
        _fill_sign_in(browser, *ALICE)
        browser.wait_path("/api/auth/two-factor/verify")
        assert browser.text("h1") == "Enter your code"
        assert browser.attribute("#input-code", "autocomplete") == "one-time-code"
        browser.screenshot("two-factor-code")
        browser.type("#input-code", pyotp.TOTP(demo.DEMO_TOTP_SECRET).now())
        browser.click("form[action$='/api/auth/two-factor/verify'] button[type=submit]")
        browser.wait_path("/dashboard")
        browser.get(base + "admin")
        assert browser.text("h1") == "Admin"
        browser.screenshot("admin")

    shots = sorted(p.name for p in (tmp_path / "screenshots").iterdir())
    assert len(shots) == 10
    for name in shots:
        assert (tmp_path / "screenshots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- the plain WSGI example (examples/wsgi_app.py) in Chromium -----------------------------------

WSGI_EXAMPLE = ROOT / "examples" / "wsgi_app.py"
FASTAPI_EXAMPLE = ROOT / "examples" / "fastapi_app.py"


@contextlib.contextmanager
def running_wsgi_example(log: pathlib.Path, script: pathlib.Path = WSGI_EXAMPLE) -> t.Iterator[str]:
    """``python examples/wsgi_app.py`` (or another example ``script``) on a free port; the base
    URL once it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXTAUTH_", "AUTH_"))}
    env.update(PORT=str(port), PYTHONUNBUFFERED="1")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(script)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(
                f"the example exited with {proc.returncode}:\n{log.read_text(errors='replace')}"
            )
        try:
            with urllib.request.urlopen(base + "/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        _wait_for(up, "the WSGI example to answer", START_TIMEOUT)
        yield base
    finally:
        stop(proc)


def test_wsgi_example_in_chromium(browser: Browser, tmp_path: pathlib.Path) -> None:
    """Sign-in -> protected page -> session JSON -> sign-out on the plain WSGI app (no Flask)."""
    spec = importlib.util.spec_from_file_location("authguard_wsgi_example", WSGI_EXAMPLE)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    bob = ("bob", example.DEMO_CREDENTIALS["bob"][0])
    with running_wsgi_example(tmp_path / "wsgi.log") as base:
        # A protected page sends an anonymous visitor to the built-in sign-in page (no JavaScript).
        browser.get(base + "/dashboard")
        url = browser.wait_path("/api/auth/signin")
        assert parse_qs(urlsplit(url).query)["callbackUrl"] == ["/dashboard"]
        assert browser.text("h1") == "Sign in"
        assert "<script" not in browser.source()
        browser.screenshot("wsgi-sign-in-page")

        _fill_sign_in(browser, bob[0], "not-the-password")
        _wait_for(lambda: "error=CredentialsSignin" in browser.url, "the sign-in error")
        assert "Sign in failed" in browser.text("[role=alert]")

        _fill_sign_in(browser, *bob)
        browser.wait_path("/dashboard")
        assert browser.text("h1") == "Hello, Bob"
        assert "role: user" in browser.text("#claims")
        cookies = {c["name"]: c for c in browser.cookies()}
        assert cookies["next-auth.session-token"]["httpOnly"] is True
        browser.screenshot("wsgi-dashboard")

        # The session JSON the same cookie gives.
        browser.get(base + "/api/auth/session")
        _wait_for(lambda: "bob@example.com" in browser.source(), "the session JSON")
        assert '"name":"Bob"' in browser.source()

        # Signed in, not an admin: the inner middleware's 403.
        browser.get(base + "/admin")
        assert browser.text("h1") == "Admins only"

        # Sign out through the confirmation page.
        browser.get(base + "/")
        browser.click("#signout-link")
        browser.wait_path("/api/auth/signout")
        assert browser.text("h1") == "Sign out"
        browser.screenshot("wsgi-sign-out-page")
        browser.click("form[action$='/api/auth/signout'] button[type=submit]")
        browser.wait_path("/")
        _wait_for(
            lambda: not any(c["name"].startswith("next-auth.session-token") for c in browser.cookies()),
            "the session cookie to go",
        )
        browser.get(base + "/api/auth/session")
        _wait_for(lambda: "{}" in browser.source(), "the empty session")
        browser.get(base + "/dashboard")
        browser.wait_path("/api/auth/signin")
        browser.screenshot("wsgi-protected-again")


def test_fastapi_example_in_chromium(browser: Browser, tmp_path: pathlib.Path) -> None:
    """The ASGI layer under uvicorn: sign-in through the built-in pages -> protected page ->
    the FastAPI dependencies -> sign-out, on ``examples/fastapi_app.py``."""
    pytest.importorskip("uvicorn", reason="the FastAPI browser test needs uvicorn: pip install -e '.[test]'")
    with running_wsgi_example(tmp_path / "fastapi.log", FASTAPI_EXAMPLE) as base:
        browser.get(base + "/dashboard")
        url = browser.wait_path("/api/auth/signin")
        assert parse_qs(urlsplit(url).query)["callbackUrl"] == ["/dashboard"]
        assert browser.text("h1") == "Sign in"
        browser.screenshot("fastapi-sign-in-page")

        _fill_sign_in(browser, "bob", "not-the-password")
        _wait_for(lambda: "error=CredentialsSignin" in browser.url, "the sign-in error")

        _fill_sign_in(browser, "bob", "bob-user-pw")
        browser.wait_path("/dashboard")
        assert browser.text("h1") == "Hello, Bob"
        assert "role: user" in browser.text("#claims")
        assert {c["name"]: c for c in browser.cookies()}["next-auth.session-token"]["httpOnly"] is True
        browser.screenshot("fastapi-dashboard")

        # The dependencies: the token, the role check (403), the session with its rolled cookie.
        browser.get(base + "/api/me")
        _wait_for(lambda: '"sub":"bob"' in browser.source(), "the token from the Token dependency")
        browser.get(base + "/api/admin")
        _wait_for(lambda: "Access denied" in browser.source(), "the 403 page of require_auth(authorized=)")
        browser.get(base + "/api/session")
        _wait_for(lambda: "bob@example.com" in browser.source(), "the session from ServerSession")
        browser.get(base + "/api/auth/session")
        _wait_for(lambda: '"name":"Bob"' in browser.source(), "the session JSON of the endpoints")

        browser.get(base + "/")
        browser.click("#signout-link")
        browser.wait_path("/api/auth/signout")
        browser.click("form[action$='/api/auth/signout'] button[type=submit]")
        browser.wait_path("/")
        _wait_for(
            lambda: not any(c["name"].startswith("next-auth.session-token") for c in browser.cookies()),
            "the session cookie to go",
        )
        browser.get(base + "/dashboard")
        browser.wait_path("/api/auth/signin")
        browser.screenshot("fastapi-protected-again")


# -- the pages the library answers, in Chromium (issue 28) ----------------------------------------

#: The computed styles that make the pages' look: the font, the page background, the card.
_LAYOUT_SCRIPT = """
const main = document.querySelector("main");
const sheets = Array.from(document.styleSheets).map(
    (s) => Array.from(s.cssRules).map((r) => r.cssText).join("\\n")).join("\\n");
if (!main) return {sheets, font: getComputedStyle(document.body).fontFamily, card: null};
const card = getComputedStyle(main);
return {
    sheets,
    font: getComputedStyle(document.body).fontFamily,
    card: [card.borderTopStyle, card.borderRadius, card.boxShadow, card.paddingTop, card.width].join(" | "),
};
"""


def _layout(browser: Browser) -> dict[str, t.Any]:
    return t.cast("dict[str, t.Any]", browser.execute(_LAYOUT_SCRIPT))


def _burn_sign_ins(base: str, username: str, count: int) -> None:
    """``count`` refused sign-ins for ``username`` over HTTP (its own cookies): the throttle's
    per-identifier count, so the browser's next attempt is the one refused with 429."""
    import http.cookiejar

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(base + "api/auth/csrf", timeout=10) as response:
        csrf = json.loads(response.read())["csrfToken"]
    for _ in range(count):
        body = f"csrfToken={csrf}&username={username}&password=wrong&json=true".encode()
        with pytest.raises(urllib.error.HTTPError) as info:
            opener.open(base + "api/auth/callback/credentials", data=body, timeout=10)
        info.value.close()
        assert info.value.code == 401


def test_pages_have_the_sign_in_layout_in_chromium(browser: Browser, tmp_path: pathlib.Path) -> None:
    """The 429, unknown-action and error pages look like the sign-in page (the same stylesheet,
    font and card) and lead back to sign-in keeping ``callbackUrl``; a failed sign-in keeps it
    in the URL."""
    with running_demo([sys.executable, str(DEMO), "--port", "0"], tmp_path / "demo.log") as process:
        base = process.url
        dashboard = base + "dashboard"

        browser.get(dashboard)
        browser.wait_path("/api/auth/signin")
        reference = _layout(browser)
        assert reference["card"] and "sans-serif" in reference["font"]
        browser.screenshot("pages-sign-in")

        def assert_same_layout(what: str) -> None:
            layout = _layout(browser)
            assert layout == reference, f"{what}: {layout} != {reference}"

        def signin_link_callback() -> list[str]:
            href = browser.attribute("#signin-link", "href") or ""
            assert urlsplit(href).path == "/api/auth/signin", href
            return parse_qs(urlsplit(href).query).get("callbackUrl", [])

        # A wrong password: the sign-in page again, with the error and callbackUrl in its URL.
        _fill_sign_in(browser, "mallory", "not-the-password")
        url = _wait_for(
            lambda: browser.url if "error=CredentialsSignin" in browser.url else None, "the error"
        )
        assert parse_qs(urlsplit(url).query)["callbackUrl"] == [dashboard]
        assert "Sign in failed" in browser.text("[role=alert]")
        assert "not-the-password" not in browser.source()
        # What was typed comes back, the password never: the user corrects it and tries again.
        value_of = "return document.querySelector(arguments[0]).value"
        assert browser.execute(value_of, "#input-credentials-username") == "mallory"
        assert browser.execute(value_of, "#input-credentials-password") == ""
        assert browser.active_element_id() == "input-credentials-password"
        assert not any("not-the-password" in str(cookie.get("value")) for cookie in browser.cookies())
        assert_same_layout("the sign-in page after a wrong password")
        browser.screenshot("pages-sign-in-failed")

        # Throttled (10 a minute per identifier): the 429 page.
        _burn_sign_ins(base, "mallory", 9)
        _fill_sign_in(browser, "mallory", "not-the-password")
        browser.wait_path("/api/auth/callback/credentials")  # the 429 page, not a redirect
        assert browser.text("h1") == "Too many sign-in attempts"
        assert "seconds, then try again" in browser.text("[role=alert]")
        assert_same_layout("the 429 page")
        assert signin_link_callback() == [dashboard]
        browser.screenshot("pages-429")
        browser.click("#signin-link")
        url = browser.wait_path("/api/auth/signin")
        assert parse_qs(urlsplit(url).query)["callbackUrl"] == [dashboard]

        # An action the endpoints do not serve: next-auth's 400, as a page.
        browser.get(base + "api/auth/nope?callbackUrl=%2Fdashboard")
        assert browser.text("h1") == "Page not found"
        assert "HTTP GET is not supported" in browser.text("[role=alert]")
        assert_same_layout("the unknown-action page")
        assert signin_link_callback() == [dashboard]
        browser.screenshot("pages-unknown-action")

        # next-auth's error page.
        browser.get(base + "api/auth/error?error=AccessDenied")
        assert browser.text("h1") == "Access denied"
        assert_same_layout("the error page")
        assert signin_link_callback() == []  # the callback-url cookie keeps it
        browser.screenshot("pages-error")

    shots = sorted((tmp_path / "screenshots").iterdir())
    assert [p.name for p in shots] == [
        "01-pages-sign-in.png",
        "02-pages-sign-in-failed.png",
        "03-pages-429.png",
        "04-pages-unknown-action.png",
        "05-pages-error.png",
    ]
    for shot in shots:
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _sign_in_over_http(base: str, username: str, password: str, user_agent: str) -> t.Any:
    """A second device: a real HTTP client signed in to the running demo."""
    import requests

    session = requests.Session()
    session.headers["User-Agent"] = user_agent
    csrf = session.get(base + "api/auth/csrf", timeout=10).json()["csrfToken"]
    data = {"csrfToken": csrf, "username": username, "password": password, "callbackUrl": "/dashboard"}
    response = session.post(
        base + "api/auth/callback/credentials", data=data, allow_redirects=False, timeout=10
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")
    return session


def test_demo_step_up_and_devices_in_chromium(
    browser: Browser, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sign in, wait past ``max_age``, the sensitive page asks again and comes back; then "your
    devices" lists a second device and ends it."""
    import time

    max_age = 2
    monkeypatch.setenv("DEMO_STEP_UP_MAX_AGE", str(max_age))
    with running_demo([sys.executable, str(DEMO), "--port", "0"], tmp_path / "demo.log") as process:
        base = process.url

        # The account page wants a recent sign-in: a fresh one gets in.
        browser.get(base + "account")
        browser.wait_path("/api/auth/signin")
        _fill_sign_in(browser, *BOB)
        browser.wait_path("/account")
        assert browser.text("h1") == "Account"
        browser.screenshot("account")

        # Past max_age: the same page asks for the password again, then comes back.
        time.sleep(max_age + 1)
        browser.get(base + "account")
        url = browser.wait_path("/api/auth/signin")
        assert parse_qs(urlsplit(url).query) == {"callbackUrl": ["/account"], "max_age": [str(max_age)]}
        assert browser.text("#step-up-notice") == "Please sign in again to continue."
        browser.screenshot("step-up-sign-in")
        _fill_sign_in(browser, *BOB)
        browser.wait_path("/account")
        assert browser.text("h1") == "Account"
        browser.screenshot("account-again")

        # Another device signs in as Bob; the browser lists both and ends the other one.
        phone = _sign_in_over_http(base, BOB[0], BOB[1], "Phone/1.0")
        assert phone.get(base + "api/me", timeout=10).status_code == 200
        browser.get(base + "devices")
        assert browser.text("h1") == "Your devices"
        rows = browser.execute(
            "return [...document.querySelectorAll('tr.device')]"
            ".map(r => r.querySelector('.agent').textContent)"
        )
        assert len(rows) == 2 and any("Phone/1.0" in row for row in rows)
        assert "(this device)" in browser.text("tr.device.current .agent")
        browser.screenshot("devices")
        browser.click("tr.device:not(.current) button.end")
        _wait_for(
            lambda: browser.execute("return document.querySelectorAll('tr.device').length") == 1,
            "the other device to leave the list",
        )
        browser.screenshot("device-ended")
        assert phone.get(base + "api/me", timeout=10).status_code == 401  # signed out there
        browser.get(base + "dashboard")
        assert browser.text("#welcome").startswith("Welcome, Bob!")  # still signed in here
