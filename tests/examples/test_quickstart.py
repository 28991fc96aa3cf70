"""The README's three quick starts (``examples/quickstart``): each is the README's snippet,
word for word, and each signs ``alice`` in and shows her the dashboard, as the README says."""

from __future__ import annotations

import http.cookiejar
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import time
import types
import typing as t
import urllib.parse
import urllib.request

import pytest
from starlette.testclient import TestClient
from support import ROOT
from support.examples import EXAMPLES, load
from support.processes import stop
from werkzeug.test import Client

QUICKSTARTS = ["flask_app", "wsgi_app", "fastapi_app"]


def readme_snippets() -> list[str]:
    """The Python code blocks of README.rst, dedented, in order."""
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    blocks = re.findall(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text, re.MULTILINE)
    return [re.sub(r"^    ", "", block, flags=re.MULTILINE).strip() + "\n" for block in blocks]


def test_the_readme_snippets_are_the_quickstart_files() -> None:
    files = [(EXAMPLES / "quickstart" / f"{name}.py").read_text(encoding="utf-8") for name in QUICKSTARTS]
    assert readme_snippets() == files


def sign_in(client: t.Any, username: str, password: str) -> t.Any:
    answer = client.get("/api/auth/csrf")
    csrf = (answer.json() if isinstance(client, TestClient) else answer.json)["csrfToken"]
    form = {"username": username, "password": password, "csrfToken": csrf, "callbackUrl": "/dashboard"}
    return client.post("/api/auth/callback/credentials", data=form)


@pytest.mark.parametrize("name", QUICKSTARTS)
def test_alice_signs_in(name: str) -> None:
    module: types.ModuleType = load(f"quickstart/{name}")
    if name == "fastapi_app":
        # The address the README opens (a loopback host: links are built for it).
        with TestClient(module.app, base_url="http://127.0.0.1:5012", follow_redirects=False) as client:
            check_sign_in(client, json=True)
        return
    app = module.app if name == "flask_app" else module.application
    check_sign_in(Client(app), json=False)


def check_sign_in(client: t.Any, *, json: bool) -> None:
    anonymous = client.get("/dashboard")
    assert anonymous.status_code == 307
    assert "/api/auth/signin?callbackUrl=" in anonymous.headers["Location"]
    page = client.get("/api/auth/signin")
    assert 'name="username"' in page.text and 'name="password"' in page.text  # the provider's form
    assert sign_in(client, "alice", "wrong").status_code == 302
    assert client.get("/dashboard").status_code == 307  # refused: still signed out
    assert sign_in(client, "alice", "alice-admin-pw").headers["Location"].endswith("/dashboard")
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200
    assert (dashboard.json() == {"hello": "Alice"}) if json else (dashboard.text == "Hello Alice")


#: The README's command for each quick start, saved as ``app.py`` (its port replaced by a free one).
COMMANDS = {
    "flask_app": ["-m", "flask", "--app", "app", "run", "--port", "{port}"],
    "wsgi_app": ["-m", "gunicorn", "-b", "127.0.0.1:{port}", "app:application"],
    "fastapi_app": ["-m", "uvicorn", "app:app", "--port", "{port}"],
}


@pytest.mark.parametrize("name", QUICKSTARTS)
def test_the_readme_command_serves_it(name: str, tmp_path: pathlib.Path) -> None:
    readme = (ROOT / "README.rst").read_text(encoding="utf-8")
    shown = " ".join(COMMANDS[name][2:]).replace("{port}", str(5010 + QUICKSTARTS.index(name)))
    assert shown in readme.replace("\n", " "), shown
    (tmp_path / "app.py").write_text((EXAMPLES / "quickstart" / f"{name}.py").read_text(encoding="utf-8"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "NEXTAUTH_", "AUTH_"))}
    argv = [sys.executable, *(part.format(port=port) for part in COMMANDS[name])]
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        jar = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        deadline = time.monotonic() + 30
        while True:
            try:
                csrf = json.loads(jar.open(url + "api/auth/csrf", timeout=2).read())["csrfToken"]
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{' '.join(argv)} did not serve:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
        form = {
            "username": "alice",
            "password": "alice-admin-pw",
            "csrfToken": csrf,
            "callbackUrl": "/dashboard",
        }
        data = urllib.parse.urlencode(form).encode()
        with jar.open(url + "api/auth/callback/credentials", data=data, timeout=10) as page:
            assert page.geturl() == url + "dashboard"
            assert "Alice" in page.read().decode()
    finally:
        stop(process)
