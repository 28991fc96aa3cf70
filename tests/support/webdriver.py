"""A W3C WebDriver client on the standard library, for Debian's Chromium and chromedriver.

Shared by the browser tests (``tests/examples/test_browser.py``, ``tests/interop/test_nextjs_example.py``):
``/usr/bin/chromium`` driven through ``/usr/bin/chromedriver`` with a few JSON calls, so no
Python dependency is needed. Without them the tests are skipped with the reason, except under
``CI=true``, where they fail: CI must run them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import time
import typing as t
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from support.processes import free_port

CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMEDRIVER = pathlib.Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--password-store=basic",
    "--window-size=1200,900",
]
START_TIMEOUT = 30.0
STEP_TIMEOUT = 15.0


def wait_for(condition: t.Callable[[], t.Any], what: str, timeout: float = STEP_TIMEOUT) -> t.Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def require_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        reason = (
            f"the browser test needs Debian's chromium and chromium-driver ({', '.join(missing)} missing): "
            "apt-get install -y chromium chromium-driver"
        )
        missing(reason)


class WebDriverError(AssertionError):
    """chromedriver answered an error."""


class Browser:
    """A W3C WebDriver session on chromedriver: just the commands the browser tests need."""

    ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

    def __init__(self, driver_url: str, profile: pathlib.Path, shots: pathlib.Path) -> None:
        self.driver_url = driver_url
        self.shots = shots
        self.shot_count = 0
        capabilities = {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": str(CHROMIUM),
                "args": [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"],
            },
        }
        value = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        self.session = f"/session/{value['sessionId']}"
        self._call("POST", f"{self.session}/timeouts", {"implicit": 5000, "pageLoad": 30000, "script": 10000})

    def _call(self, method: str, path: str, body: t.Any = None) -> t.Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.driver_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = json.loads(exc.read() or b"{}").get("value", {})
            raise WebDriverError(f"{method} {path}: {detail.get('error')}: {detail.get('message')}") from None
        return payload.get("value")

    def quit(self) -> None:
        with contextlib.suppress(Exception):
            self._call("DELETE", self.session)

    # -- navigation and reading --------------------------------------------------------------

    def get(self, url: str) -> None:
        self._call("POST", f"{self.session}/url", {"url": url})

    @property
    def url(self) -> str:
        return t.cast(str, self._call("GET", f"{self.session}/url"))

    def wait_path(self, path: str) -> str:
        """Wait until the page's path is ``path``; the URL."""
        return t.cast(
            str, wait_for(lambda: self.url if urlsplit(self.url).path == path else None, f"path {path}")
        )

    def find(self, css: str) -> str:
        value = self._call("POST", f"{self.session}/element", {"using": "css selector", "value": css})
        return t.cast(str, value[self.ELEMENT])

    def text(self, css: str) -> str:
        return t.cast(str, self._call("GET", f"{self.session}/element/{self.find(css)}/text"))

    def attribute(self, css: str, name: str) -> str | None:
        return t.cast(
            "str | None", self._call("GET", f"{self.session}/element/{self.find(css)}/attribute/{name}")
        )

    def source(self) -> str:
        return t.cast(str, self._call("GET", f"{self.session}/source"))

    def cdp(self, command: str, params: dict[str, t.Any] | None = None) -> t.Any:
        """A Chrome DevTools Protocol command (chromedriver's ``goog/cdp/execute``), e.g.
        ``WebAuthn.addVirtualAuthenticator``; its result."""
        body = {"cmd": command, "params": params or {}}
        return self._call("POST", f"{self.session}/goog/cdp/execute", body)

    def execute(self, script: str, *args: t.Any) -> t.Any:
        """Run ``script`` (a function body; ``arguments[i]`` are ``args``) in the page."""
        return self._call("POST", f"{self.session}/execute/sync", {"script": script, "args": list(args)})

    def cookies(self) -> list[dict[str, t.Any]]:
        return t.cast("list[dict[str, t.Any]]", self._call("GET", f"{self.session}/cookie"))

    def active_element_id(self) -> str | None:
        value = self._call("GET", f"{self.session}/element/active")
        element = value[self.ELEMENT]
        return t.cast("str | None", self._call("GET", f"{self.session}/element/{element}/attribute/id"))

    # -- acting ------------------------------------------------------------------------------

    def type(self, css: str, text: str) -> None:
        element = self.find(css)
        self._call("POST", f"{self.session}/element/{element}/clear", {})
        self._call("POST", f"{self.session}/element/{element}/value", {"text": text})

    def click(self, css: str) -> None:
        self._call("POST", f"{self.session}/element/{self.find(css)}/click", {})

    def screenshot(self, name: str) -> pathlib.Path:
        self.shot_count += 1
        path = self.shots / f"{self.shot_count:02d}-{name}.png"
        path.write_bytes(base64.b64decode(self._call("GET", f"{self.session}/screenshot")))
        return path


@contextlib.contextmanager
def running_browser(tmp_path: pathlib.Path) -> t.Iterator[Browser]:
    """chromedriver and a Chromium session with a fresh profile under ``tmp_path`` (screenshots in
    ``tmp_path/screenshots``); skipped (failed under ``CI=true``) without Chromium."""
    require_browser()
    port = free_port()
    log = tmp_path / "chromedriver.log"
    with open(log, "wb") as out:
        driver = subprocess.Popen(
            [str(CHROMEDRIVER), f"--port={port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    driver_url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if driver.poll() is not None:
            raise AssertionError(
                f"chromedriver exited with {driver.returncode}:\n{log.read_text(errors='replace')}"
            )
        try:
            with urllib.request.urlopen(driver_url + "/status", timeout=2) as response:
                return bool(json.loads(response.read())["value"]["ready"])
        except OSError:
            return False

    shots = tmp_path / "screenshots"
    shots.mkdir()
    session: Browser | None = None
    try:
        wait_for(ready, "chromedriver to start", START_TIMEOUT)
        session = Browser(driver_url, tmp_path / "chromium-profile", shots)
        yield session
    finally:
        if session is not None:
            session.quit()
        driver.terminate()
        try:
            driver.wait(timeout=10)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait(timeout=10)
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)
