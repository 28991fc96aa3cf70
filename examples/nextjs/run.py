"""Start the Next.js example and its Flask API with one command.

::

    python examples/nextjs/run.py                # JWT sessions: http://localhost:3000/
    python examples/nextjs/run.py --database     # database sessions on PostgreSQL

It runs ``npm ci`` and ``next build`` when needed (``node_modules`` and ``.next`` are kept in
``examples/nextjs`` and redone only when the lock file, the sources or the API's URL change),
starts the Flask API (``api.py``) and ``next start``, prints the URL and both PIDs, and stops both
on Ctrl-C, SIGTERM, or when either exits. ``--port 0`` / ``--api-port 0`` pick free ports.

With ``--cache-dir DIR`` (what the test suite uses) the install lives in
``DIR/<hash of the lock>/node_modules`` and each build in ``DIR/<hash>/builds/<hash of the
sources and API URL>/``, so a fresh clone builds once and later runs reuse it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
import typing as t

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None  # type: ignore[assignment]

EXAMPLE = pathlib.Path(__file__).resolve().parent
#: What npm installs from.
PACKAGE_FILES = ("package.json", "package-lock.json", ".npmrc")
#: What ``next build`` compiles (with the package files).
SOURCES = ("next.config.mjs", "middleware.js", "app", "lib")
#: next-auth's secret when NEXTAUTH_SECRET is not set: for trying the example only.
DEMO_SECRET = "nextjs-example-secret-do-not-use-in-production-0123456789"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BUILD_STAMP = ".authguard-build"
INSTALL_STAMP = ".authguard-install"
START_TIMEOUT = 90.0
#: Only these of the caller's environment variables starting with NEXTAUTH_/AUTH_ are passed on.
_OWN_ENV = ("NEXTAUTH_SECRET",)


def log(message: str) -> None:
    print(f"[run.py] {message}", file=sys.stderr, flush=True)


# -- install and build ------------------------------------------------------------------------


def _files(root: pathlib.Path, names: t.Iterable[str]) -> list[pathlib.Path]:
    found: list[pathlib.Path] = []
    for name in names:
        path = root / name
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        elif path.is_file():
            found.append(path)
    return found


def content_hash(names: t.Iterable[str], *extra: str, root: pathlib.Path = EXAMPLE) -> str:
    """A short hash of the files ``names`` (under ``root``) and ``extra`` strings."""
    digest = hashlib.sha256()
    for path in _files(root, names):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for value in extra:
        digest.update(value.encode() + b"\0")
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def locked(path: pathlib.Path) -> t.Iterator[None]:
    """An exclusive lock file: parallel runs install and build once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"{name} is not on PATH: install Node.js 20 or newer (it brings npm)")
    return path


def node_env(**extra: str) -> dict[str, str]:
    """The environment for npm and Next.js: no telemetry, none of the caller's next-auth settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NEXTAUTH_", "AUTH_", "VERCEL")) or k in _OWN_ENV
    }
    env["NEXT_TELEMETRY_DISABLED"] = "1"
    env.update(extra)
    return env


def _run(argv: list[str], cwd: pathlib.Path, env: dict[str, str]) -> None:
    log(f"{' '.join(argv)}  (in {cwd})")
    proc = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SystemExit(f"`{' '.join(argv)}` failed with exit code {proc.returncode}")


def npm_ci(where: pathlib.Path) -> None:
    """``npm ci`` in ``where`` unless its ``node_modules`` came from the same lock file."""
    wanted = content_hash(PACKAGE_FILES)
    stamp = where / "node_modules" / INSTALL_STAMP
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return
    _run([_tool("npm"), "ci", "--no-audit", "--no-fund", "--loglevel=error"], where, node_env())
    stamp.write_text(wanted + "\n")


def next_cli(modules: pathlib.Path) -> list[str]:
    return [_tool("node"), str(modules / "node_modules" / "next" / "dist" / "bin" / "next")]


def next_build(where: pathlib.Path, modules: pathlib.Path, api_url: str) -> None:
    """``next build`` in ``where`` unless ``.next`` was built from the same sources and API URL."""
    wanted = content_hash((*PACKAGE_FILES, *SOURCES), api_url)
    stamp = where / ".next" / BUILD_STAMP
    if stamp.exists() and json.loads(stamp.read_text()).get("hash") == wanted:
        return
    _run([*next_cli(modules), "build"], where, node_env(FLASK_API_URL=api_url))
    stamp.write_text(json.dumps({"hash": wanted, "api_url": api_url}) + "\n")


def _copy_sources(target: pathlib.Path) -> None:
    for path in _files(EXAMPLE, ("package.json", *SOURCES)):
        destination = target / path.relative_to(EXAMPLE)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)


def cached_build_dir(cache_dir: pathlib.Path, api_url: str) -> pathlib.Path:
    build = content_hash((*PACKAGE_FILES, *SOURCES), api_url)
    return cache_dir / content_hash(PACKAGE_FILES) / "builds" / build


def prepare(api_url: str, cache_dir: pathlib.Path | None = None) -> tuple[pathlib.Path, pathlib.Path]:
    """Install and build for ``api_url``; ``(directory to start in, directory with node_modules)``."""
    if cache_dir is None:
        with locked(EXAMPLE / ".authguard.lock"):
            npm_ci(EXAMPLE)
            next_build(EXAMPLE, EXAMPLE, api_url)
        return EXAMPLE, EXAMPLE
    modules = cache_dir / content_hash(PACKAGE_FILES)
    build = cached_build_dir(cache_dir, api_url)
    with locked(cache_dir / f"{modules.name}.lock"):
        if not (modules / "node_modules" / INSTALL_STAMP).exists():
            modules.mkdir(parents=True, exist_ok=True)
            for name in PACKAGE_FILES:
                shutil.copyfile(EXAMPLE / name, modules / name)
            npm_ci(modules)
        if not (build / ".next" / BUILD_STAMP).exists():
            shutil.rmtree(build, ignore_errors=True)  # a build that died half-way
            _copy_sources(build)
            # node_modules is found one level up, as in a monorepo with hoisted packages.
            next_build(build, modules, api_url)
            shutil.rmtree(build / ".next" / "cache", ignore_errors=True)  # the compiler's, not needed to run
    return build, modules


def built_api_ports(cache_dir: pathlib.Path) -> list[int]:
    """The API ports of the cached builds of today's sources (so a run can reuse one)."""
    builds = cache_dir / content_hash(PACKAGE_FILES) / "builds"
    ports: list[int] = []
    for stamp in sorted(builds.glob(f"*/.next/{BUILD_STAMP}")):
        with contextlib.suppress(ValueError, OSError, KeyError):
            api_url = json.loads(stamp.read_text())["api_url"]
            if cached_build_dir(cache_dir, api_url) == stamp.parent.parent:
                ports.append(int(api_url.rsplit(":", 1)[1].rstrip("/")))
    return ports


# -- the two servers --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with code {proc.returncode} before listening on {port}")
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on port {port} within {START_TIMEOUT:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group (``next start`` runs its server in a child), then SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything left in the group
    proc.wait()


def _on_signal(signum: int, frame: types.FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start the Next.js example and its Flask API.")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "3000")),
        help="the Next.js app's port (0: a free one)",
    )
    parser.add_argument("--api-port", type=int, default=5009, help="the Flask API's port (0: a free one)")
    parser.add_argument("--database", action="store_true", help="database sessions (@auth/pg-adapter)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL, as node-postgres takes it (postgresql://user@host:port/db)",
    )
    parser.add_argument("--schema", default="authguard_nextjs", help="the schema of the shared tables")
    parser.add_argument(
        "--url",
        default=None,
        help="the public URL (NEXTAUTH_URL on both sides; default http://localhost:PORT)",
    )
    parser.add_argument(
        "--cache-dir",
        type=pathlib.Path,
        default=None,
        help="install and build there instead of in examples/nextjs",
    )
    args = parser.parse_args(argv)

    port = args.port or free_port()
    api_port = args.api_port or free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    # Next.js calls 127.0.0.1 "localhost" in the URLs its middleware builds: one name for both.
    url = (args.url or f"http://localhost:{port}").rstrip("/")
    app_dir, modules = prepare(api_url, args.cache_dir)

    secret = os.environ.get("NEXTAUTH_SECRET")
    if not secret:
        log("NEXTAUTH_SECRET is not set: using the example's built-in secret (never in production)")
        secret = DEMO_SECRET
    shared = {"NEXTAUTH_SECRET": secret, "NEXTAUTH_URL": url, "PYTHONUNBUFFERED": "1"}
    api_argv = [sys.executable, str(EXAMPLE / "api.py"), "--port", str(api_port)]
    if args.database:
        shared.update(
            AUTH_SESSION_STRATEGY="database", DATABASE_URL=args.database_url, DATABASE_SCHEMA=args.schema
        )
        api_argv += ["--database-url", args.database_url, "--schema", args.schema]

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # Ctrl-C, kill, a closed terminal
        signal.signal(sig, _on_signal)
    started: list[subprocess.Popen[bytes]] = []
    try:
        api = subprocess.Popen(
            api_argv, env=node_env(**shared), stdin=subprocess.DEVNULL, start_new_session=True
        )
        started.append(api)
        _wait_for_port(api_port, api, "the Flask API")
        next_argv = [*next_cli(modules), "start", "-H", "127.0.0.1", "-p", str(port)]
        web = subprocess.Popen(
            next_argv, cwd=app_dir, env=node_env(**shared), stdin=subprocess.DEVNULL, start_new_session=True
        )
        started.append(web)
        _wait_for_port(port, web, "next start")
        print(f"Next.js app running on {url}/ (Flask API on {api_url}/, reached through {url}/api/py/*)")
        if args.database:
            print("Sign in with any email address; the sign-in link is printed below ([email]).")
            print(f"Admins (ADMIN_EMAILS): {os.environ.get('ADMIN_EMAILS', 'alice@example.com')}")
        else:
            print("Sign in as alice / alice-admin-pw (admin), bob / bob-user-pw (user) or")
            print("carol / carol-user-pw (user, a large claim: a chunked session cookie)")
        print(f"PIDs: next {web.pid}, flask {api.pid}. Ctrl-C stops both.", flush=True)
        while all(p.poll() is None for p in started):
            time.sleep(0.2)
        exited = next(p for p in started if p.poll() is not None)
        log(f"{'next start' if exited is web else 'the Flask API'} exited with {exited.returncode}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        for proc in reversed(started):
            stop(proc)
        log("stopped")


if __name__ == "__main__":
    sys.exit(main())
