"""The Next.js example (``examples/nextjs``) end to end: a real ``next build`` of the app with
next-auth 4.24.15 in front of the Flask API, started by the example's own command
(``examples/nextjs/run.py``) and used in headless Chromium.

The npm packages (``examples/nextjs/package-lock.json``) are installed with ``npm ci`` once per
machine and the app built once per API port into::

    $FLASK_AUTHGUARD_NEXTJS_CACHE                       when set, else
    $XDG_CACHE_HOME/flask_authguard-nextjs/             (default ~/.cache/flask_authguard-nextjs/)
        <hash of the package files>/node_modules
        <hash of the package files>/builds/<hash of the sources and the API URL>/.next

(the API's URL is compiled into the rewrite, so a run reuses a build whose API port is free).
Without Node.js/npm, Chromium or PostgreSQL the tests skip with the reason, except under
``CI=true``, where they fail.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pathlib
import re
import secrets
import signal
import subprocess
import sys
import typing as t
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
from support import ROOT, missing
from support.nodejs import NodeUnavailable, check_node_version, tool
from support.webdriver import Browser, running_browser, wait_for

from flask_authguard import decode, encode

EXAMPLE = ROOT / "examples" / "nextjs"
START_TIMEOUT = 120.0


def _load(name: str, path: pathlib.Path) -> t.Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = _load("authguard_nextjs_run", EXAMPLE / "run.py")
api = _load("authguard_nextjs_api", EXAMPLE / "api.py")
SECRET = run.DEMO_SECRET
BOB = ("bob", "bob-user-pw")
ALICE = ("alice", "alice-admin-pw")
CAROL = ("carol", "carol-user-pw")
COOKIE = "next-auth.session-token"


def cache_dir() -> pathlib.Path:
    explicit = os.environ.get("FLASK_AUTHGUARD_NEXTJS_CACHE")
    if explicit:
        return pathlib.Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "flask_authguard-nextjs"


@pytest.fixture(scope="module")
def api_port() -> int:
    """The port of the Flask API the built app's rewrite points at: ``npm ci`` and ``next build``
    done (or found in the cache) for it."""
    try:
        check_node_version(tool("node"))
        tool("npm")
    except NodeUnavailable as exc:
        missing(f"the Next.js example needs Node.js and npm: {exc}")
    cache = cache_dir()
    reusable = [port for port in run.built_api_ports(cache) if run.port_is_free(port)]
    port = reusable[0] if reusable else run.free_port()
    try:
        run.prepare(f"http://127.0.0.1:{port}", cache)
    except SystemExit as exc:  # run.py reports a failed npm ci / next build this way
        missing(f"the Next.js example could not be installed or built: {exc}")
    return int(port)


# -- the example's own command -----------------------------------------------------------------


def _stat(pid: str) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name: state, ppid, pgrp, ..."""
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """``pid`` or any process of its process group still runs (zombies do not count)."""
    if not pathlib.Path("/proc/self/stat").exists():  # pragma: no cover - no procfs
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in os.listdir("/proc"):
        fields = _stat(entry) if entry.isdigit() else None
        if fields and fields[0] != "Z" and (int(entry) == pid or int(fields[2]) == pid):
            return True
    return False


class Stack:
    """``run.py`` in a subprocess: the Next.js app and the Flask API, its printed URL and PIDs."""

    def __init__(self, api_port: int, log: pathlib.Path, *extra: str) -> None:
        self.log = log
        argv = [
            sys.executable,
            str(EXAMPLE / "run.py"),
            "--cache-dir",
            str(cache_dir()),
            "--port",
            "0",
            "--api-port",
            str(api_port),
            *extra,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXTAUTH_", "AUTH_"))}
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        match = wait_for(self._started, f"run.py to print its URL (log: {log})", START_TIMEOUT)
        self.url: str = match.group(1)
        self.next_pid, self.flask_pid = int(match.group(2)), int(match.group(3))

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def _started(self) -> re.Match[str] | None:
        output = self.output()
        printed = r"running on (http://localhost:\d+)/.*\nPIDs: next (\d+), flask (\d+)"
        match = re.search(printed, output, re.S)
        if match is None and self.proc.poll() is not None:
            raise AssertionError(f"run.py exited with {self.proc.returncode}:\n{output}")
        return match

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Stop run.py as a user would (Ctrl-C); its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return int(self.proc.returncode)


@contextlib.contextmanager
def stack(api_port: int, log: pathlib.Path, *extra: str) -> t.Iterator[Stack]:
    running = Stack(api_port, log, *extra)
    try:
        yield running
    finally:
        running.stop()


# -- driving the app in Chromium -----------------------------------------------------------------


def sign_in_with_credentials(browser: Browser, base: str, username: str, password: str) -> None:
    """Through next-auth's own sign-in page, sent there by withAuth from the dashboard."""
    browser.get(base + "/dashboard")
    url = browser.wait_path("/api/auth/signin")
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["callbackUrl"] == ["/dashboard"]
    browser.type("#input-username-for-credentials-provider", username)
    browser.type("#input-password-for-credentials-provider", password)
    browser.click("form[action$='/api/auth/callback/credentials'] button[type=submit]")
    browser.wait_path("/dashboard")


def sign_out(browser: Browser, base: str) -> None:
    """Through next-auth's own sign-out page; then on the (public) home page."""
    browser.get(base + "/api/auth/signout")
    browser.click("form[action$='/api/auth/signout'] button[type=submit]")
    # next-auth sends the browser on to the last callbackUrl (the dashboard, so: sign-in).
    wait_for(lambda: urllib.parse.urlsplit(browser.url).path != "/api/auth/signout", "the sign-out")
    browser.get(base + "/")


def call(browser: Browser, name: str) -> tuple[int, t.Any]:
    """Click the page's button for a Flask route; its status and JSON body, as the page saw them."""
    wait_for(lambda: browser.attribute("#api-panel", "data-ready") == "true", "the page to hydrate")
    before = int(browser.attribute("#api-result", "data-count") or 0)
    browser.click(f"#call-{name}")

    def answered() -> bool:
        return int(browser.attribute("#api-result", "data-count") or 0) > before

    wait_for(answered, f"the answer to {name}")
    status = int(browser.attribute("#api-result", "data-status") or 0)
    return status, json.loads(browser.text("#api-body"))


def session_cookies(browser: Browser) -> dict[str, str]:
    return {c["name"]: c["value"] for c in browser.cookies() if c["name"].startswith(COOKIE)}


def joined(cookies: dict[str, str]) -> str:
    if COOKIE in cookies:
        return cookies[COOKIE]
    return "".join(cookies[f"{COOKIE}.{i}"] for i in range(len(cookies)))


def page_session(browser: Browser) -> t.Any:
    """next-auth's session as the dashboard (getServerSession) rendered it."""
    return json.loads(browser.text("#session"))


# -- JWT sessions --------------------------------------------------------------------------------


def test_jwt_sessions_in_chromium(api_port: int, tmp_path: pathlib.Path) -> None:
    with stack(api_port, tmp_path / "run.log") as app, running_browser(tmp_path) as browser:
        base = app.url

        # Anonymous: the public route answers, the others say 401 through the rewrite.
        browser.get(base + "/")
        assert call(browser, "public") == (200, {"message": "Anyone may read this.", "signedIn": False})
        assert call(browser, "me")[0] == 401

        # Signed in through next-auth: the role travels in the JWT to Flask.
        sign_in_with_credentials(browser, base, *BOB)
        assert browser.text("#welcome") == "Welcome, Bob! Your role is user."
        cookies = {c["name"]: c for c in browser.cookies()}
        assert cookies[COOKIE]["httpOnly"] is True and cookies[COOKIE]["sameSite"] == "Lax"
        bob = {"id": "2", "name": "Bob", "email": "bob@example.com", "role": "user"}
        assert call(browser, "me") == (200, {"user": bob, "groups": 0})
        status, body = call(browser, "admin")
        assert status == 403 and body["error"] == "Forbidden"
        assert call(browser, "public")[1]["signedIn"] is True

        # A same-origin POST through the rewrite passes the cross-site defence.
        assert call(browser, "note") == (201, {"notes": ["hello from Next.js"]})

        # get_server_session() in Flask: next-auth's session shape, and the cookie rolled.
        issued = session_cookies(browser)[COOKIE]
        status, body = call(browser, "session")
        assert status == 200 and body["session"]["user"] == bob
        rolled = session_cookies(browser)[COOKIE]
        assert rolled != issued
        old, new = decode(token=issued, secret=SECRET), decode(token=rolled, secret=SECRET)
        assert new["exp"] >= old["exp"] and new["jti"] != old["jti"] and new["role"] == "user"

        # next-auth accepts the cookie Flask wrote on the next page load (withAuth, then the page).
        browser.get(base + "/dashboard")
        browser.wait_path("/dashboard")
        assert page_session(browser)["user"] == bob
        assert session_cookies(browser)[COOKIE] == rolled  # the page read it, nobody replaced it

        # Signed out through next-auth: Flask answers 401 again.
        sign_out(browser, base)
        assert session_cookies(browser) == {}
        assert call(browser, "me")[0] == 401
        assert call(browser, "session")[0] == 401
        assert call(browser, "note")[0] == 401
        browser.get(base + "/dashboard")
        browser.wait_path("/api/auth/signin")

        # An admin passes the admin route.
        sign_in_with_credentials(browser, base, *ALICE)
        assert browser.text("#welcome") == "Welcome, Alice! Your role is admin."
        status, body = call(browser, "admin")
        assert status == 200 and body["user"]["role"] == "admin"

        # One Ctrl-C stops both servers.
        assert app.stop() == 0
        assert not alive(app.next_pid) and not alive(app.flask_pid)
        assert not alive(app.proc.pid)
        assert "[run.py] stopped" in app.output()


def test_a_chunked_session_cookie_in_chromium(api_port: int, tmp_path: pathlib.Path) -> None:
    with stack(api_port, tmp_path / "run.log") as app, running_browser(tmp_path) as browser:
        base = app.url
        sign_in_with_credentials(browser, base, *CAROL)

        # carol's groups make a token too big for one cookie: next-auth wrote chunks.
        issued = session_cookies(browser)
        assert COOKIE not in issued and sorted(issued) == [f"{COOKIE}.0", f"{COOKIE}.1"]
        assert len(decode(token=joined(issued), secret=SECRET)["groups"]) == 160
        carol = {"id": "3", "name": "Carol", "email": "carol@example.com", "role": "user"}
        assert call(browser, "me") == (200, {"user": carol, "groups": 160})

        # Flask rolls it, in chunks too; next-auth reads those on the next page load.
        assert call(browser, "session")[0] == 200
        rolled = session_cookies(browser)
        assert sorted(rolled) == sorted(issued) and rolled != issued
        assert len(decode(token=joined(rolled), secret=SECRET)["groups"]) == 160
        browser.get(base + "/dashboard")
        browser.wait_path("/dashboard")
        assert page_session(browser)["user"] == carol
        assert call(browser, "me") == (200, {"user": carol, "groups": 160})


def _next_auth_sign_in(base: str, username: str, password: str) -> t.Callable[..., t.Any]:
    """Sign in through next-auth's API with a cookie jar; a function sending requests with it."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with opener.open(base + "/api/auth/csrf", timeout=30) as response:
        csrf = json.loads(response.read())["csrfToken"]
    form = {"csrfToken": csrf, "username": username, "password": password, "json": "true"}
    with opener.open(base + "/api/auth/callback/credentials", urllib.parse.urlencode(form).encode(), 30):
        pass

    def send(path: str, data: bytes | None = None, **headers: str) -> tuple[int, t.Any]:
        request = urllib.request.Request(base + path, data=data, headers=headers)
        try:
            with opener.open(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    return send


def test_a_cross_site_post_is_refused(api_port: int, tmp_path: pathlib.Path) -> None:
    with stack(api_port, tmp_path / "run.log") as app:
        send = _next_auth_sign_in(app.url, *BOB)
        body = json.dumps({"text": "a note"}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        same_origin = {**headers, "Origin": app.url, "Sec-Fetch-Site": "same-origin"}
        cross_site = {**headers, "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
        assert send("/api/py/notes", body, **same_origin) == (201, {"notes": ["a note"]})
        status, answer = send("/api/py/notes", body, **cross_site)
        assert status == 403 and isinstance(answer, dict)  # JSON, whatever its wording
        assert send("/api/py/me", Accept="application/json")[1]["user"]["name"] == "Bob"  # still signed in


# -- the cookie names on http and https (the API alone) -----------------------------------------


@pytest.mark.parametrize(
    "url, name, other",
    [
        pytest.param("http://localhost:3000", COOKIE, f"__Secure-{COOKIE}", id="http"),
        pytest.param("https://app.example.com", f"__Secure-{COOKIE}", COOKIE, id="https"),
    ],
)
def test_the_api_reads_the_cookie_name_nextauth_url_implies(url: str, name: str, other: str) -> None:
    client = api.create_app(secret=SECRET, url=url).test_client()
    claims = {"sub": "2", "name": "Bob", "email": "bob@example.com", "role": "user"}
    token = encode(token=claims, secret=SECRET)
    client.set_cookie(other, token)
    assert client.get("/api/py/me").status_code == 401
    client.set_cookie(name, token)
    response = client.get("/api/py/me")
    assert response.status_code == 200 and response.get_json()["user"]["role"] == "user"


# -- database sessions -----------------------------------------------------------------------------


def email_sign_in(browser: Browser, app: Stack, email: str) -> None:
    """next-auth's email sign-in; the link is read from the log (the example prints it)."""
    browser.get(app.url + "/dashboard")
    browser.wait_path("/api/auth/signin")  # sent by the page's own getServerSession check
    browser.type("#input-email-for-email-provider", email)
    browser.click("form[action$='/api/auth/signin/email'] button[type=submit]")
    browser.wait_path("/api/auth/verify-request")
    pattern = re.compile(rf"\[email\] sign-in link for {re.escape(email)}: (\S+)")
    link = wait_for(lambda: ([m.group(1) for m in pattern.finditer(app.output())] or [None])[-1], "the link")
    browser.get(link)
    browser.wait_path("/dashboard")


def test_database_sessions_in_chromium(api_port: int, tmp_path: pathlib.Path) -> None:
    sa = pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
    from support.adapters import postgres_url, require_postgres

    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    engine = require_postgres()
    schema = f"authguard_nextjs_{os.getpid()}_{secrets.token_hex(4)}"
    node_url = sa.engine.make_url(postgres_url()).set(drivername="postgresql")  # as node-postgres takes it
    database_url = node_url.render_as_string(hide_password=False)
    options = ("--database", "--database-url", database_url, "--schema", schema)
    try:
        with stack(api_port, tmp_path / "run.log", *options) as app, running_browser(tmp_path) as browser:
            adapter = SQLAlchemyAdapter(engine, schema=schema)  # the tables the API made at start-up
            email_sign_in(browser, app, "nora@example.com")
            session = page_session(browser)
            assert session["user"]["email"] == "nora@example.com" and session["user"]["role"] == "user"

            # The cookie is next-auth's session row, and Flask finds the same row and user.
            token = session_cookies(browser)[COOKIE]
            found = adapter.get_session_and_user(token)
            assert found is not None and found["user"]["id"] == session["user"]["id"]
            status, body = call(browser, "me")
            assert status == 200
            assert body["user"] == {
                "id": session["user"]["id"],
                "name": None,
                "email": "nora@example.com",
                "role": "user",
            }
            assert call(browser, "admin")[0] == 403
            assert call(browser, "note")[0] == 201

            # get_server_session() in Flask; next-auth still takes the cookie on the next load.
            status, body = call(browser, "session")
            assert status == 200 and body["session"]["user"] == session["user"]
            assert session_cookies(browser)[COOKIE] == token  # a database session keeps its id
            browser.get(app.url + "/dashboard")
            browser.wait_path("/dashboard")
            assert page_session(browser)["user"] == session["user"]

            # next-auth's sign-out deletes the row: Flask answers 401.
            sign_out(browser, app.url)
            assert adapter.get_session_and_user(token) is None
            assert call(browser, "me")[0] == 401

            # The admin by email (ADMIN_EMAILS on both sides).
            email_sign_in(browser, app, "alice@example.com")
            assert page_session(browser)["user"]["role"] == "admin"
            assert call(browser, "admin")[0] == 200
            assert app.stop(signal.SIGTERM) == 0  # kill, as a service manager would
            assert not alive(app.next_pid) and not alive(app.flask_pid)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
