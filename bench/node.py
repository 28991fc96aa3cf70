"""The real next-auth v4 rows: ``bench/node_bench.mjs`` times next-auth's own functions under
Node.js on the same token and cookies, and its JSON output fills the ``node_*`` rows.

next-auth is the install of ``tests/support/nodejs.py`` (shared with the interop tests, installed on
first use). Without ``node`` or that install the rows say why instead of a figure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import typing as t

from bench import apps
from bench.cases import Context, Skip
from bench.report import Row
from bench.timing import Settings, median_spread

BENCH_DIR = pathlib.Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent


def _node_install_dir() -> pathlib.Path:
    """The next-auth install of ``tests/support/nodejs.py`` (installing it when its cache lacks it)."""
    path = ROOT / "tests" / "support" / "nodejs.py"
    if not path.exists():
        raise Skip("skipped: tests/support/nodejs.py (the next-auth install) is not in this checkout")
    spec = importlib.util.spec_from_file_location("_bench_nodejs", path)
    if spec is None or spec.loader is None:
        raise Skip("skipped: cannot load tests/support/nodejs.py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        return t.cast(pathlib.Path, module.installed())
    except ImportError as exc:
        raise Skip(f"skipped: tests/support/nodejs.py needs {exc.name}") from None
    except Exception as exc:  # NodeUnavailable and friends: the reason is the message
        raise Skip(f"skipped: {exc}".splitlines()[0]) from None


def run_node(ctx: Context, settings: Settings) -> dict[str, t.Any]:
    """Time next-auth's functions with ``bench/node_bench.mjs``: its JSON output."""
    node = shutil.which("node")
    if node is None:
        raise Skip("skipped: node is not installed")
    where = _node_install_dir()
    payload = {
        "secret": apps.SECRET,
        "token": ctx.token,
        "cookieHeader": ctx.cookie,
        "rounds": settings.node_rounds,
        "iterations": settings.node_iterations,
        "warmup": max(50, settings.node_iterations // 2),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXTAUTH_", "AUTH_", "VERCEL"))}
    try:
        proc = subprocess.run(
            [node, str(BENCH_DIR / "node_bench.mjs"), str(where)],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise Skip("error: node_bench.mjs took longer than 900 s") from None
    if proc.returncode != 0:
        raise Skip("error: node_bench.mjs failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1])
    return t.cast("dict[str, t.Any]", json.loads(proc.stdout))


def fill_rows(rows: dict[str, Row], output: dict[str, t.Any]) -> None:
    """Copy the figures of :func:`run_node`'s ``output`` into the ``node_*`` rows."""
    ops = {
        "node_decode": "decode",
        "node_get_token": "getToken",
        "node_with_auth": "withAuth",
        "node_get_server_session": "getServerSession",
    }
    versions = output.get("versions", {})
    for key, op in ops.items():
        result = output.get("results", {}).get(op, {})
        row = rows[key]
        if "us" in result:
            row.us = float(result["us"])
            row.samples = [float(x) for x in result.get("rounds", [])]
            if row.samples:
                row.spread = median_spread(row.samples)[1]
            row.note = f"next-auth {versions.get('next-auth', '?')}, node {versions.get('node', '?')}"
        else:
            row.missing = "error: " + str(result.get("error", "no result"))
