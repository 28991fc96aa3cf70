"""The real next-auth and ``@auth/core``, run under Node.js, for round-trip tests.

The npm packages pinned in ``tests/node/package.json`` (and its ``package-lock.json``) are
installed once per machine into a cache directory named after a hash of those files::

    $FLASK_AUTHGUARD_NODE_CACHE                     when set, else
    $XDG_CACHE_HOME/flask_authguard-node/<hash>/    (default ~/.cache/flask_authguard-node/<hash>/)

so a test run pays the install only the first time (and again whenever the pins change).
``tests/node/helper.mjs`` is copied next to the installed ``node_modules`` and run with a JSON
batch of requests on stdin:

.. code-block:: python

    from support.nodejs import nextauth  # noqa: F401  (the session fixture)

    def test_it(nextauth):
        [result] = nextauth.run([{"op": "encode", "token": {"sub": "1"}, "secret": "s"}])
        token = value_of(result)

Without ``node``/``npm``, or when the install fails, the tests that need them are skipped with
the reason, except under ``CI=true``, where they fail: CI must really run them.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import typing as t

import pytest

from support import missing

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, installs may race
    fcntl = None  # type: ignore[assignment]

#: The npm project: package.json, package-lock.json, .npmrc and helper.mjs.
#: ``tests/node``; found from this file alone, since bench/node.py loads this module by its path.
NODE_DIR = pathlib.Path(__file__).resolve().parent.parent / "node"
#: The files whose content names the cache directory.
PACKAGE_FILES = ("package.json", "package-lock.json", ".npmrc")
#: Oldest Node.js the helper runs on (``@auth/core`` needs the global WebCrypto).
MIN_NODE_MAJOR = 20
#: The install may download; a run of the helper must not take long.
INSTALL_TIMEOUT = 600
RUN_TIMEOUT = 120
#: Environment variables next-auth reads; never inherited by the helper (requests pass ``env``).
_NEXTAUTH_ENV_PREFIXES = ("NEXTAUTH_", "AUTH_", "VERCEL")

Request = dict[str, t.Any]
Result = dict[str, t.Any]


class NodeUnavailable(RuntimeError):
    """Node.js, npm or the npm packages cannot be had on this machine."""


class NodeError(RuntimeError):
    """The helper ran but did not answer with JSON."""


def cache_root() -> pathlib.Path:
    """Where installs are kept: ``$FLASK_AUTHGUARD_NODE_CACHE`` or the XDG cache."""
    explicit = os.environ.get("FLASK_AUTHGUARD_NODE_CACHE")
    if explicit:
        return pathlib.Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "flask_authguard-node"


def package_hash() -> str:
    """A short hash of the pinned package files: a new pin means a new install."""
    digest = hashlib.sha256()
    for name in PACKAGE_FILES:
        path = NODE_DIR / name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"")
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def tool(name: str) -> str:
    """The path of the program ``name`` (``node``, ``npm``).

    :raises NodeUnavailable: it is not on ``PATH``.
    """
    path = shutil.which(name)
    if path is None:
        raise NodeUnavailable(f"{name} is not on PATH (Node.js >= {MIN_NODE_MAJOR} and npm are needed)")
    return path


def check_node_version(node: str) -> None:
    """Check that ``node`` is Node.js ``MIN_NODE_MAJOR`` or newer.

    :raises NodeUnavailable: it is older, or does not say its version.
    """
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise NodeUnavailable(f"`node --version` failed: {exc}") from None
    version = out.stdout.strip()
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        raise NodeUnavailable(f"cannot read the Node.js version from {version!r}") from None
    if major < MIN_NODE_MAJOR:
        raise NodeUnavailable(f"Node.js {version} is too old: {MIN_NODE_MAJOR} or newer is needed")


class InstallLock:
    """An exclusive lock file, so parallel test processes install once."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.file: t.IO[str] | None = None

    def __enter__(self) -> InstallLock:
        self.file = open(self.path, "w")
        if fcntl is not None:
            fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.file is not None
        if fcntl is not None:
            fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def npm_install(
    npm: str, where: pathlib.Path, source: pathlib.Path, files: t.Iterable[str], *extra: str
) -> None:
    """Copy the package files from ``source`` into ``where`` and run ``npm ci`` there (``npm
    install`` without a lock file).

    :raises NodeUnavailable: npm failed, hung past :data:`INSTALL_TIMEOUT` or could not start.
    """
    for name in files:
        if (source / name).exists():
            shutil.copyfile(source / name, where / name)
    command = "ci" if (where / "package-lock.json").exists() else "install"
    argv = [npm, command, "--no-audit", "--no-fund", *extra, "--loglevel=error"]
    try:
        proc = subprocess.run(argv, cwd=where, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise NodeUnavailable(f"`npm {command}` took longer than {INSTALL_TIMEOUT} s") from None
    except OSError as exc:
        raise NodeUnavailable(f"`npm {command}` could not start: {exc}") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:]) or "(no output)"
        raise NodeUnavailable(f"`npm {command}` in {where} failed (exit {proc.returncode}):\n{tail}")


def _npm_install(npm: str, where: pathlib.Path) -> None:
    npm_install(npm, where, NODE_DIR, PACKAGE_FILES, "--legacy-peer-deps")


def _copy_if_changed(source: pathlib.Path, target: pathlib.Path) -> None:
    data = source.read_bytes()
    if target.exists() and target.read_bytes() == data:
        return
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    os.replace(partial, target)  # atomic: a parallel run never sees half a file


def cached_install(key: str, build: t.Callable[[pathlib.Path], None], helper: pathlib.Path) -> pathlib.Path:
    """The cache directory ``key``, built once by ``build(directory)`` (under a file lock, in a
    scratch directory moved into place when complete), with ``helper`` copied in.

    :raises NodeUnavailable: the cache directory cannot be made, or ``build`` failed.
    """
    root = cache_root()
    target = root / key
    if not (target / ".installed").exists():
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NodeUnavailable(f"cannot create the cache directory {root}: {exc}") from None
        with InstallLock(root / f"{key}.lock"):
            if not (target / ".installed").exists():
                building = root / f"{key}.building-{os.getpid()}"
                shutil.rmtree(building, ignore_errors=True)
                building.mkdir()
                try:
                    build(building)
                    (building / ".installed").write_text("ok\n")
                    shutil.rmtree(target, ignore_errors=True)
                    os.replace(building, target)
                finally:
                    shutil.rmtree(building, ignore_errors=True)
    _copy_if_changed(helper, target / helper.name)
    return target


def install() -> pathlib.Path:
    """Install the pinned packages unless the cache has them; the directory to run in.

    :raises NodeUnavailable: no ``node``/``npm``, too old a Node.js, or ``npm ci`` failed.
    """
    node, npm = tool("node"), tool("npm")
    check_node_version(node)
    return cached_install(package_hash(), lambda where: _npm_install(npm, where), NODE_DIR / "helper.mjs")


_installed: pathlib.Path | NodeUnavailable | None = None


def installed() -> pathlib.Path:
    """:func:`install`, attempted once per process (a failure is remembered too)."""
    global _installed
    if _installed is None:
        try:
            _installed = install()
        except NodeUnavailable as exc:
            _installed = exc
    if isinstance(_installed, NodeUnavailable):
        raise _installed
    return _installed


def node_env() -> dict[str, str]:
    """This process's environment without the ``NEXTAUTH_*``/``AUTH_*`` settings of the tests."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_NEXTAUTH_ENV_PREFIXES)}


def run_helper(where: pathlib.Path, requests: t.Sequence[t.Any]) -> list[Result]:
    """Run a batch of requests through the ``helper.mjs`` in ``where`` (its JSON pipe), in one
    Node.js process; one result per request, ``{"ok": True, "value": ...}`` or ``{"ok": False,
    "error": {...}}``.

    :raises NodeError: the helper crashed, took too long, or answered something else than JSON.
    """
    try:
        proc = subprocess.run(
            [tool("node"), "helper.mjs"],
            cwd=where,
            input=json.dumps(list(requests)),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=RUN_TIMEOUT,
            env=node_env(),
        )
    except subprocess.TimeoutExpired:
        raise NodeError(f"the node helper took longer than {RUN_TIMEOUT} s") from None
    if proc.returncode != 0:
        raise NodeError(f"the node helper exited {proc.returncode}:\n{proc.stderr.strip()}")
    try:
        results = json.loads(proc.stdout)
    except ValueError:
        raise NodeError(f"the node helper answered no JSON:\n{proc.stdout[:2000]}") from None
    if not isinstance(results, list) or len(results) != len(requests):
        raise NodeError(f"expected {len(requests)} results, got {proc.stdout[:2000]}")
    return results


def run_node(requests: t.Sequence[Request]) -> list[Result]:
    """Run a batch of next-auth helper requests (:func:`run_helper` on ``tests/node``'s install).
    See ``tests/node/helper.mjs`` for the operations.

    :raises NodeUnavailable: see :func:`install`.
    :raises NodeError: see :func:`run_helper`.
    """
    return run_helper(installed(), requests)


def value_of(result: Result) -> t.Any:
    """The value of a successful result; an ``AssertionError`` naming next-auth's error otherwise."""
    if not result.get("ok"):
        error = result.get("error") or {}
        raise AssertionError(
            f"next-auth raised {error.get('name')} ({error.get('code')}): {error.get('message')}"
        )
    return result["value"]


def require_node() -> pathlib.Path:
    """The install directory, or skip the test (fail it under ``CI=true``) with the reason."""
    try:
        return installed()
    except NodeUnavailable as exc:
        reason = f"next-auth interop needs Node.js and npm: {exc}"
        missing(reason)


class NextAuth:
    """The fixture's value: the helper, installed and ready."""

    def __init__(self, directory: pathlib.Path) -> None:
        #: Where ``node_modules`` and ``helper.mjs`` live.
        self.directory = directory

    def run(self, requests: t.Sequence[Request]) -> list[Result]:
        """:func:`run_node`: one Node.js process for the whole batch."""
        return run_node(requests)

    def values(self, requests: t.Sequence[Request]) -> list[t.Any]:
        """Like :meth:`run`, but every request must succeed; their values."""
        return [value_of(r) for r in self.run(requests)]


@pytest.fixture(scope="session")
def nextauth() -> NextAuth:
    """next-auth under Node.js, installed once per test run (skipped, or failed under CI)."""
    return NextAuth(require_node())
