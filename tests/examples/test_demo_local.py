"""``python examples/demo/app.py --local``, as the sign-in how-to page says: one flag starts a
local OpenID Connect provider and an SMTP sink, and a user signs in through each (over HTTP, with a
cookie jar, as a browser would).

Skipped, with the reason, without Node.js and npm, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import pathlib
import re
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest
from support import missing
from support.demo import DEMO, running_demo
from support.webdriver import wait_for


@pytest.fixture(scope="module")
def node_ready() -> None:
    """The local provider's package installed (the demo installs it too, but a missing Node.js
    must skip here, not fail inside the demo)."""
    from support import oidc_server
    from support.nodejs import NodeUnavailable

    try:
        oidc_server.install()
    except NodeUnavailable as exc:
        reason = f"the demo's --local provider needs Node.js and npm: {exc}"
        missing(reason)


class Browser:
    def __init__(self, url: str) -> None:
        self.url = url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def open(self, path: str, form: dict[str, str] | None = None) -> tuple[str, str]:
        """The final URL and body, redirects followed."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        target = path if path.startswith("http") else self.url + path.lstrip("/")
        with self.opener.open(target, data=data, timeout=20) as response:
            return response.geturl(), response.read().decode()

    def csrf(self) -> str:
        return str(json.loads(self.open("api/auth/csrf")[1])["csrfToken"])


def test_local_oidc_and_email_sign_in(node_ready: None, tmp_path: pathlib.Path) -> None:
    log = tmp_path / "demo.log"
    with running_demo([sys.executable, str(DEMO), "--local", "--port", "0"], log) as demo:
        printed = wait_for(
            lambda: "Press Ctrl+C" in demo.output() and demo.output(), "the local services", 60
        )
        assert "Local OpenID Connect provider: http://127.0.0.1:" in printed
        assert "Local SMTP sink: 127.0.0.1:" in printed

        oidc = Browser(demo.url)
        form = {"csrfToken": oidc.csrf(), "callbackUrl": demo.url + "dashboard"}
        final, page = oidc.open("api/auth/signin/oidc", form)  # to the provider and back
        assert final == demo.url + "dashboard" and "Welcome, Alice!" in page
        assert json.loads(oidc.open("api/me")[1])["user"]["email"] == "alice@example.com"
        # its ID token says when Alice authenticated (now): the account page (max_age) opens
        assert oidc.open("account")[0] == demo.url + "account"

        mail = Browser(demo.url)
        final, page = mail.open(
            "api/auth/signin/email", {"csrfToken": mail.csrf(), "email": "bob@example.com"}
        )
        assert "/api/auth/verify-request" in final
        link = wait_for(
            lambda: (
                (m := re.search(r"sign-in link for bob@example.com: (\S+)", demo.output())) and m.group(1)
            ),
            "the printed sign-in link",
            20,
        )
        mail.open(link)
        assert json.loads(mail.open("api/me")[1])["user"]["email"] == "bob@example.com"


def test_a_provider_without_its_extra_stops_the_demo_with_a_message() -> None:
    """``GITHUB_ID`` set without the ``[oauth]`` extra: a message naming the extra, no traceback."""
    script = (
        "import runpy, sys\n"
        "sys.modules['authlib'] = None  # as if the oauth extra were not installed\n"
        f"sys.argv = [{str(DEMO)!r}, '--port', '0']\n"
        f"runpy.run_path({str(DEMO)!r}, run_name='__main__')\n"
    )
    env = {**os.environ, "GITHUB_ID": "x", "GITHUB_SECRET": "y"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "flask_authguard[oauth]" in done.stderr and "Traceback" not in done.stderr
