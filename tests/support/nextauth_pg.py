"""The real next-auth with @auth/pg-adapter under Node.js, on the test PostgreSQL database
(``tests/interop/test_interop_pg.py``, ``tests/interop/test_interop_oauth.py``)."""

from __future__ import annotations

import hashlib
import pathlib
import typing as t

import pytest

from support import TESTS

sa = pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
from support.nodejs import (  # noqa: E402
    cached_install,
    check_node_version,
    npm_install,
    run_helper,
    tool,
)

NODE_PG_DIR = TESTS / "node_pg"
PACKAGE_FILES = ("package.json", "package-lock.json")
SECRET = "interop-pg-secret-0123456789abcdef0123456789"
ORIGIN = "http://localhost:3000"


def package_hash() -> str:
    digest = hashlib.sha256()
    for name in PACKAGE_FILES:
        digest.update(name.encode() + b"\0" + (NODE_PG_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _npm_install(npm: str, where: pathlib.Path) -> None:
    npm_install(npm, where, NODE_PG_DIR, PACKAGE_FILES, "--legacy-peer-deps")


def install() -> pathlib.Path:
    """The pinned packages, installed unless the cache has them; the directory to run in."""
    node, npm = tool("node"), tool("npm")
    check_node_version(node)
    helper = NODE_PG_DIR / "helper.mjs"
    return cached_install(f"pg-{package_hash()}", lambda where: _npm_install(npm, where), helper)


class NextAuthPg:
    """next-auth with ``@auth/pg-adapter`` on the test run's schema."""

    def __init__(self, directory: pathlib.Path, connection_string: str, schema: str) -> None:
        self.directory = directory
        self.database = {"connectionString": connection_string, "schema": schema}

    def run(self, op: str, **params: t.Any) -> t.Any:
        request = {"op": op, "secret": SECRET, "url": ORIGIN, "database": self.database, **params}
        [result] = run_helper(self.directory, [request])
        assert result["ok"], f"next-auth failed: {result['error']}"
        return result["value"]
