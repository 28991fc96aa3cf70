"""A real OpenID Connect provider for the OAuth tests: npm ``oauth2-mock-server`` behind the
small control API of ``tests/node_oidc/server.mjs``, run as its own Node.js process on
127.0.0.1 (a free port) for the whole test session.

The package, pinned in ``tests/node_oidc/package.json`` and ``package-lock.json``, is installed
once per machine into ``<cache>/oidc-<hash of those files>`` with the installer of
``tests/support/nodejs.py``. Without Node.js/npm the tests that need it are skipped with the reason,
except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import subprocess
import typing as t
import urllib.request

import pytest

from support import TESTS, missing
from support.processes import stop

# ``support.nodejs`` (the installer) is imported inside the functions: imported here, it would be
# loaded before the root conftest registers it as a plugin (``pytest_plugins``), which pytest
# refuses.

NODE_OIDC_DIR = TESTS / "node_oidc"
PACKAGE_FILES = ("package.json", "package-lock.json")
START_TIMEOUT = 30


def package_hash() -> str:
    digest = hashlib.sha256()
    for name in PACKAGE_FILES:
        digest.update(name.encode() + b"\0" + (NODE_OIDC_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _npm_install(npm: str, where: pathlib.Path) -> None:
    from support.nodejs import npm_install

    npm_install(npm, where, NODE_OIDC_DIR, PACKAGE_FILES)


def install() -> pathlib.Path:
    """The install directory (with ``server.mjs``), installed unless cached."""
    from support.nodejs import cached_install, check_node_version, tool

    node, npm = tool("node"), tool("npm")
    check_node_version(node)
    return cached_install(
        f"oidc-{package_hash()}", lambda where: _npm_install(npm, where), NODE_OIDC_DIR / "server.mjs"
    )


class OIDCServer:
    """The running provider: its issuer URL and the control API."""

    def __init__(self, process: subprocess.Popen[str], issuer: str) -> None:
        self.process = process
        #: ``http://127.0.0.1:<port>``, the ``iss`` of its tokens.
        self.issuer = issuer

    def _post(self, path: str, body: t.Any = None) -> t.Any:
        data = json.dumps(body or {}).encode()
        request = urllib.request.Request(
            self.issuer + path, data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def scenario(self, **behaviour: t.Any) -> None:
        """Set how the next requests behave (see ``server.mjs``); no arguments: normal."""
        self._post("/__control", {"scenario": behaviour})

    def stats(self) -> dict[str, int]:
        """The refresh grant's counters since the last :meth:`scenario`: ``refresh_calls``,
        ``refused``, ``reused`` (a rotated-out refresh token presented again), ``down``."""
        with urllib.request.urlopen(self.issuer + "/__stats", timeout=10) as response:
            return t.cast("dict[str, int]", json.loads(response.read()))

    def rotate(self) -> str:
        """A new signing key replaces the old one in the JWKS; the new key id."""
        return t.cast(str, self._post("/__rotate")["kid"])

    def stop(self) -> None:
        stop(self.process)


def start() -> OIDCServer:
    """Install if needed and start ``server.mjs`` on a free port.

    :raises NodeUnavailable: no Node.js/npm, the install failed, or the server did not start.
    """
    from support.nodejs import NodeUnavailable, node_env, tool

    where = install()
    process = subprocess.Popen(
        [tool("node"), "server.mjs"],
        cwd=where,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**node_env(), "OIDC_PORT": "0"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        _, err = process.communicate(timeout=START_TIMEOUT)
        process.stdout.close()
        raise NodeUnavailable(f"the OIDC test server did not start:\n{err.strip()[-2000:]}")
    return OIDCServer(process, json.loads(line)["issuer"])


@pytest.fixture(scope="session")
def oidc_server() -> t.Iterator[OIDCServer]:
    """The provider, started once per test run (skipped, or failed under ``CI=true``)."""
    from support.nodejs import NodeUnavailable

    try:
        server = start()
    except NodeUnavailable as exc:
        reason = f"the OIDC tests need Node.js and npm: {exc}"
        missing(reason)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def idp(oidc_server: OIDCServer) -> t.Iterator[OIDCServer]:
    """The provider, behaving normally at the start and end of each test."""
    oidc_server.scenario()
    yield oidc_server
    oidc_server.scenario()
