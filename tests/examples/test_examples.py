"""The runnable examples: ``examples/flask_app.py`` and ``examples/blueprints.py``, driven
through the built-in sign-in endpoints with the Flask test client, and started for real."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time
import types
import typing as t
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import FrozenClock
from flask import Flask
from support.examples import EXAMPLES, credentials_sign_in, load
from support.processes import stop

from flask_authguard.flask.testing import sign_in

SECRET = "examples-test-secret-0123456789abcdef0123"
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def flask_app_module() -> types.ModuleType:
    return load("flask_app")


@pytest.fixture(scope="module")
def blueprints_module() -> types.ModuleType:
    return load("blueprints")


def signed_out(client: t.Any) -> t.Any:
    csrf = client.get("/api/auth/csrf").json["csrfToken"]
    return client.post("/api/auth/signout", data={"csrfToken": csrf})


# --------------------------------------------------------------------------- flask_app.py


@pytest.fixture
def site(flask_app_module: types.ModuleType, frozen_clock: FrozenClock) -> Flask:
    return t.cast(Flask, flask_app_module.create_app(SECRET))


def test_site_anonymous_visitors(site: Flask) -> None:
    client = site.test_client()
    home = client.get("/")
    assert home.status_code == 307
    location = urlsplit(home.headers["Location"])
    assert location.path == "/api/auth/signin" and parse_qs(location.query) == {"callbackUrl": ["/"]}
    about = client.get("/about")
    assert about.status_code == 200 and "Not signed in" in about.text
    assert client.get("/admin/").status_code == 307
    api = client.get("/api/me", headers=JSON)
    assert api.status_code == 401 and api.json["error"] == "Unauthorized"
    assert client.get("/api/auth/signin").status_code == 200  # the sign-in page itself is public


def test_site_sign_in_browse_and_sign_out(site: Flask) -> None:
    client = site.test_client()
    response = credentials_sign_in(client, "bob", "bob-user-pw")
    assert response.status_code == 302 and response.headers["Location"] == "http://localhost/"
    home = client.get("/")
    assert home.status_code == 200 and "Bob" in home.text and "(user)" in home.text
    assert "next-auth.session-token=" in home.headers["Set-Cookie"]  # the rolling refresh
    me = client.get("/api/me", headers=JSON).json
    assert me["sub"] == "2" and me["session"]["user"]["role"] == "user"
    assert client.get("/admin/").status_code == 403  # signed in, not an admin: no redirect loop
    assert signed_out(client).status_code == 302
    assert client.get("/").status_code == 307


def test_site_admin_area(site: Flask) -> None:
    client = site.test_client()
    credentials_sign_in(client, "alice", "alice-admin-pw")
    admin = client.get("/admin/")
    assert admin.status_code == 200 and "Alice" in admin.text and "(admin)" in admin.text
    # the testing helper gives the same access without the sign-in round trip
    other = site.test_client()
    sign_in(other, sub="9", name="Helper Admin", role="admin")
    assert "Helper Admin" in other.get("/admin/").text


def test_site_refuses_a_wrong_password(site: Flask) -> None:
    client = site.test_client()
    response = credentials_sign_in(client, "bob", "wrong")
    location = urlsplit(response.headers["Location"])  # next-auth's way: via the error route
    assert location.path == "/api/auth/error" and parse_qs(location.query)["error"] == ["CredentialsSignin"]
    page = client.get("/api/auth/error?error=CredentialsSignin", follow_redirects=True)
    assert page.status_code == 200 and page.request.path == "/api/auth/signin"
    assert client.get_cookie("next-auth.session-token") is None
    assert client.get("/").status_code == 307


def test_site_secret_from_the_environment(
    flask_app_module: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEXTAUTH_SECRET", SECRET)
    assert flask_app_module.create_app().extensions["authguard"].config.secrets == (SECRET,)
    monkeypatch.delenv("NEXTAUTH_SECRET")
    demo = flask_app_module.DEMO_SECRET
    assert flask_app_module.create_app().extensions["authguard"].config.secrets == (demo,)


def test_main_prints_the_url(
    flask_app_module: types.ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: list[tuple[str, int]] = []
    monkeypatch.setattr(Flask, "run", lambda self, host, port: served.append((host, port)))
    flask_app_module.main(["--port", "8123"])
    assert served == [("127.0.0.1", 8123)]
    assert "http://127.0.0.1:8123/" in capsys.readouterr().out


# --------------------------------------------------------------------------- blueprints.py


@pytest.fixture
def bp_app(blueprints_module: types.ModuleType, frozen_clock: FrozenClock) -> Flask:
    return t.cast(Flask, blueprints_module.create_app(SECRET))


def test_blueprints_public_index_and_protected_blueprints(bp_app: Flask) -> None:
    client = bp_app.test_client()
    assert "Hello stranger" in client.get("/").text
    assert client.get("/account/").status_code == 307
    assert client.get("/account/session.json", headers=JSON).status_code == 401
    assert client.get("/reports/").status_code == 307


def test_blueprints_views_read_the_session(bp_app: Flask) -> None:
    client = bp_app.test_client()
    credentials_sign_in(client, "alice", "alice-admin-pw", "/account/")
    profile = client.get("/account/")
    assert profile.status_code == 200 and "Hello Alice" in profile.text
    assert "next-auth.session-token=" in profile.headers["Set-Cookie"]
    body = client.get("/account/session.json").json
    assert body["session"]["user"] == {"name": "Alice", "email": "alice@example.com"}
    reports = client.get("/reports/")
    assert reports.status_code == 200 and "For Alice, member of reporters." in reports.text
    assert "Hello Alice" in client.get("/").text


def test_blueprints_group_check(bp_app: Flask) -> None:
    client = bp_app.test_client()
    credentials_sign_in(client, "bob", "bob-user-pw")
    assert client.get("/account/").status_code == 200
    assert client.get("/reports/").status_code == 403


def test_blueprints_app_factory_runs_twice(
    blueprints_module: types.ModuleType, frozen_clock: FrozenClock
) -> None:
    first = blueprints_module.create_app(SECRET)
    second = blueprints_module.create_app("another-secret-0123456789abcdef01234")
    client = first.test_client()
    sign_in(client, sub="x", name="X", groups=["reporters"])
    assert client.get("/reports/").status_code == 200
    other = second.test_client()
    sign_in(other, sub="y", name="Y", groups=[])
    assert other.get("/reports/").status_code == 403
    assert other.get("/account/").status_code == 200


# --------------------------------------------------------------------------- really runnable


@pytest.mark.parametrize(
    ("name", "extra", "path", "port_by"),
    [
        ("flask_app", [], "api/auth/providers", "flag"),
        ("blueprints", [], "api/auth/providers", "flag"),
        ("wsgi_app", [], "", "flag"),
        ("wsgi_app", [], "", "env"),
        ("database_app", ["--database-url", "sqlite:///{tmp}/db.sqlite3"], "api/auth/providers", "flag"),
        ("demo/app", [], "api/auth/providers", "env"),
    ],
)
def test_the_example_runs_as_a_script(
    name: str, extra: list[str], path: str, port_by: str, tmp_path: pathlib.Path
) -> None:
    """``python examples/<name>.py --port N`` (or ``PORT=N``) prints its URL and serves it
    (loopback only)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # FLASK_RUN_FROM_CLI (left behind by a FlaskGroup run in this process) would make app.run() a no-op.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(PYTHONUNBUFFERED="1", NEXTAUTH_SECRET=SECRET)
    log = tmp_path / "out.txt"
    with log.open("w") as out:
        if port_by == "env":
            env["PORT"] = str(port)
        args = ["--port", str(port)] if port_by == "flag" else []
        process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / f"{name}.py"), *args, *(a.format(tmp=tmp_path) for a in extra)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=env,
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(url + path, timeout=2) as response:
                    status = response.status
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None:
                    break
                time.sleep(0.2)
        assert status == 200, log.read_text()
        assert url in log.read_text()
    finally:
        stop(process)


def test_every_serving_example_has_its_own_default_port() -> None:
    names = [
        "demo/app",
        "flask_app",
        "blueprints",
        "database_app",
        "wsgi_app",
        "fastapi_app",
        "defences",
        "provider_api",
        "prisma_api",
    ]
    names += ["proxy_app"]
    ports = {}
    for name in names:
        text = (EXAMPLES / f"{name}.py").read_text()
        line = next(x for x in text.splitlines() if x.startswith("DEFAULT_PORT = "))
        ports[name] = int(line.split("=", 1)[1].strip().strip('"'))
        assert '"--port"' in text and '"PORT"' in text, name
    # The cluster (gunicorn), the Next.js example's Flask API and the quick starts' commands.
    ports["cluster"] = int(load("cluster/gunicorn.conf").bind.rsplit(":", 1)[1])
    api = (EXAMPLES / "nextjs" / "api.py").read_text()
    ports["nextjs/api"] = int(api.split('os.environ.get("API_PORT", "', 1)[1].split('"', 1)[0])
    assert f"127.0.0.1:{ports['nextjs/api']}" in (EXAMPLES / "nextjs" / "next.config.mjs").read_text()
    ports["nextjs"] = 3000
    for port, quickstart in zip((5010, 5011, 5012), ("flask_app", "wsgi_app", "fastapi_app"), strict=True):
        ports[f"quickstart/{quickstart}"] = port
    assert len(set(ports.values())) == len(ports), ports


def test_the_examples_page_lists_every_example() -> None:
    page = (EXAMPLES.parent / "docs" / "examples.rst").read_text()
    scripts = sorted(EXAMPLES.glob("*.py")) + [EXAMPLES / "demo" / "app.py", EXAMPLES / "nextjs" / "run.py"]
    scripts += [EXAMPLES / "cluster" / "tour.py", *sorted((EXAMPLES / "quickstart").glob("*.py"))]
    for path in scripts:
        assert f"examples/{path.relative_to(EXAMPLES).as_posix()}" in page, path.name


def test_tokens_example_round_trips_both_versions(capsys: pytest.CaptureFixture[str]) -> None:
    results = load("tokens").main()
    for version in ("v4", "v5"):
        claims = results[version]
        assert isinstance(claims, dict) and claims["sub"] == "user-1" and claims["role"] == "admin"
    assert results["chunks"] == [f"next-auth.session-token.{i}" for i in range(3)]
    assert "get_token() from the cookie: sub=user-1" in capsys.readouterr().out
