"""``examples/provider_api.py``: the provider's API called with a refreshed access token, against
the local OIDC provider process; and the script serving it."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import time
import typing as t
import urllib.error
import urllib.request

from conftest import SECRET
from support.examples import EXAMPLES, load
from support.oauth_flow import back, consent, start
from support.processes import stop

if t.TYPE_CHECKING:
    from support.oidc_server import OIDCServer

CLAIMS = {"email": "olga@example.com", "name": "Olga OIDC"}


def signed_in(monkeypatch: t.Any, idp: OIDCServer) -> t.Any:
    monkeypatch.setenv("OIDC_ID", "example-client")
    monkeypatch.setenv("OIDC_SECRET", "example-secret")
    app = load("provider_api").create_app(idp.issuer, secret=SECRET)
    client = app.test_client()
    idp.scenario(claims=CLAIMS, access_ttl=30)  # due at once: refreshed within 60 s of expiry
    done = back(client, consent(start(client, "oidc", "/").headers["Location"]))
    assert done.status_code == 302
    return client


def test_the_profile_is_read_with_a_refreshed_token(monkeypatch: t.Any, idp: OIDCServer) -> None:
    client = signed_in(monkeypatch, idp)
    idp.scenario(access_ttl=3600)
    answer = client.get("/api/profile").get_json()
    assert answer["status"] == 200 and answer["profile"]["sub"] == "johndoe"
    assert idp.stats()["refresh_calls"] == 1
    client.get("/api/profile")
    assert idp.stats()["refresh_calls"] == 1  # fresh now


def test_a_refused_refresh_asks_to_sign_in_again(monkeypatch: t.Any, idp: OIDCServer) -> None:
    client = signed_in(monkeypatch, idp)
    idp.scenario(refresh_refuse=True)
    refused = client.get("/api/profile")
    assert refused.status_code == 401
    assert refused.get_json() == {
        "error": "RefreshAccessTokenError",
        "reason": "refused",
        "signIn": "/api/auth/signin",
    }
    assert client.get("/api/auth/session").get_json()["error"] == "RefreshAccessTokenError"
    assert b"Sign in again" in client.get("/").data
    idp.scenario(access_ttl=3600)
    assert client.get("/api/profile").get_json()["status"] == 200
    assert b"Your profile at the provider" in client.get("/").data


def test_the_example_runs_as_a_script(idp: OIDCServer, tmp_path: pathlib.Path) -> None:
    import os
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(
        PYTHONUNBUFFERED="1", NEXTAUTH_SECRET=SECRET, OIDC_ISSUER=idp.issuer, OIDC_ID="c", OIDC_SECRET="s"
    )
    log = tmp_path / "out.txt"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "provider_api.py"), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=env,
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline, status = time.monotonic() + 20, None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(url + "api/auth/providers", timeout=2) as response:
                    status = response.status
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None:
                    break
                time.sleep(0.2)
        assert status == 200, log.read_text()
        assert url in log.read_text()
    finally:
        stop(process)
