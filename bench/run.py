"""flask_authguard benchmarks: one command, one markdown table.

.. code-block:: console

    $ python bench/run.py                  # full run, writes bench/results.md
    $ python bench/run.py --quick          # a fast smoke run (fewer, shorter rounds)
    $ python bench/run.py -o /tmp/b.md --no-server --no-node

Per-request rows call each WSGI app directly with a prepared environ (a fresh copy per call,
the response iterable consumed and closed), so they measure the app and its auth check, not a
server. Every case is warmed up, then timed in interleaved rounds (each round runs every case
once, in a rotating order, so a load spike on the machine hits all rows alike); a row's figure
is the median of its rounds, and ratios are against the bare app measured in the same run.
Rows that need a missing package, ``node`` or a server say so instead of a figure.

The server rows start gunicorn (or werkzeug's server when gunicorn is missing) on 127.0.0.1
and load it with keep-alive ``http.client`` clients in separate processes, each waiting for
its answer before sending the next request, for a fixed time. When valgrind is installed, each
server's worker is also run under callgrind to count the instructions it executes per request
(``bench/instructions.py``): the same every run, where throughput moves with the machine.

No row is a test: ``tests/test_bench_smoke.py`` only checks that every row runs and is printed.

This module parses the arguments and runs the rows; ``bench/cases.py`` defines the in-process
rows, ``bench/timing.py`` times them, ``bench/node.py`` runs next-auth, ``bench/server.py`` the
servers, and ``bench/report.py`` turns the rows into verdicts and markdown. ``bench/compare.py``
times the hot-path rows of two commits against each other.
"""

from __future__ import annotations

import argparse
import functools
import pathlib
import sys
import typing as t
import warnings

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``flask_authguard`` importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from bench import apps, instructions, node  # noqa: E402
from bench import server as servers  # noqa: E402
from bench.cases import (  # noqa: E402
    CASES,
    DATABASE,
    HTTP,
    NODE,
    NODE_ROWS,
    REQUEST,
    ROW_KEYS,
    SCALING,
    SERVER,
    SERVER_ROWS,
    STORE,
    Case,
    Context,
    Skip,
    Timed,
    matcher_patterns,
)
from bench.report import OVERHEAD_TARGETS, Row, add_notes, add_targets, meta, render  # noqa: E402
from bench.timing import (  # noqa: E402
    QuietGate,
    Settings,
    gated,
    matcher_call_us,
    median_spread,
    quiet_gate,
    time_cases,
)

#: What ``bench.run`` offered before it was split into cases, timing, node and report.
__all__ = [
    "CASES",
    "DATABASE",
    "HTTP",
    "NODE",
    "NODE_ROWS",
    "OVERHEAD_TARGETS",
    "REQUEST",
    "ROW_KEYS",
    "SCALING",
    "SERVER",
    "SERVER_ROWS",
    "STORE",
    "Case",
    "Context",
    "QuietGate",
    "Row",
    "Settings",
    "Skip",
    "main",
    "meta",
    "quiet_gate",
    "render",
    "run_benchmarks",
    "time_cases",
]

BENCH_DIR = pathlib.Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_OUTPUT = BENCH_DIR / "results.md"

# -- the run ----------------------------------------------------------------------------------


def _make_context() -> Context:
    token = apps.make_token()
    return Context(token=token, cookie=apps.cookie_header(apps.session_cookies(token)))


def _server_headers(ctx: Context) -> dict[str, str]:
    """What every request to the loopback servers carries: the session cookie and a browser's headers."""
    return {"Cookie": ctx.cookie, "Host": "localhost:5000", **apps.HEADERS}


def _server_rows(
    rows: dict[str, Row],
    started: dict[str, servers.Server],
    ctx: Context,
    settings: Settings,
    gate: QuietGate | None = None,
) -> None:
    """Load the servers in turn, in short windows from the same kept client processes (the
    order swapped every window pair), each window through the quiet gate when there is one."""
    headers = _server_headers(ctx)
    totals: dict[str, servers.LoadResult] = {k: servers.LoadResult(0, 0, 0.0, 0.0) for k in started}
    kinds = list(started)
    windows = max(1, round(settings.server_seconds / settings.server_window_seconds))
    window = settings.server_seconds / windows
    with servers.LoadClients(list(started.values()), apps.PROTECTED, headers, settings.clients) as clients:
        for kind in kinds:  # warm every connection and worker before the first counted window
            clients.load(started[kind], min(window, 0.5))
        for r in range(windows):
            for kind in kinds if r % 2 == 0 else kinds[::-1]:
                load = functools.partial(clients.load, started[kind], window)
                got = load() if gate is None else gated(load, gate)
                total = totals[kind]
                total.requests += got.requests
                total.errors += got.errors
                total.seconds += got.seconds
                total.server_cpu = (
                    None
                    if got.server_cpu is None or total.server_cpu is None
                    else total.server_cpu + got.server_cpu
                )
    for kind, total in totals.items():
        row = rows[f"server_{kind}"]
        row.rps, row.errors = total.rps, total.errors
        if total.server_cpu is not None and total.requests:
            row.server_cpu_us = total.server_cpu / total.requests * 1e6
        row.note = (
            started[kind].engine
            + f", {settings.clients} client processes, {windows} windows of {window * 1000:g} ms in turn"
            f" with the other servers ({settings.server_seconds:g} s each)"
        )


def _note_server_rows(rows: dict[str, Row], text: str) -> None:
    for key, _, _ in SERVER_ROWS:
        rows[key].note = f"{rows[key].note}; {text}" if rows[key].note else text


def _instruction_counts(rows: dict[str, Row], ctx: Context, settings: Settings) -> None:
    """The server rows' instructions per request, each kind's worker under callgrind."""
    reason = instructions.unavailable()
    if reason is not None:
        _note_server_rows(rows, f"no instruction count: {reason}")
        return
    headers = _server_headers(ctx)
    counts = instructions.count_all(
        list(apps.SERVER_KINDS), apps.PROTECTED, headers, requests=settings.callgrind_requests
    )
    for kind, count in counts.items():
        rows[f"server_{kind}"].instructions = count


def run_benchmarks(
    settings: Settings | None = None,
    *,
    log: t.Callable[[str], None] | None = None,
    gate: QuietGate | None = None,
) -> list[Row]:
    """Run every row that can run here; the rows in table order.

    :param gate: the quiet gate the in-process rounds go through (``None``: every round counts)."""
    settings = settings or Settings()
    say = log or (lambda _msg: None)
    ctx = _make_context()
    labels = {c.key: (c.group, c.label, c.baseline) for c in CASES}
    labels.update({k: (NODE, label, base) for k, label, base in NODE_ROWS})
    labels.update({k: (SERVER, label, base) for k, label, base in SERVER_ROWS})
    rows = {key: Row(key, *labels[key]) for key in ROW_KEYS}
    started: dict[str, servers.Server] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # peers' deprecation warnings are not the subject here
            if settings.server:
                for kind in apps.SERVER_KINDS:
                    try:
                        say(f"starting the {kind} server")
                        started[kind] = servers.start_server(kind, workers=settings.workers)
                    except Exception as exc:
                        for key, _, _ in SERVER_ROWS:
                            rows[key].missing = f"error: {exc}".splitlines()[0]
                        break
                if "guarded" in started:
                    ctx.session_port = started["guarded"].port
            else:
                for key, _, _ in SERVER_ROWS:
                    rows[key].missing = "skipped: no server run (--no-server / tiny mode)"

            if settings.node:
                say("timing next-auth under node")
                try:
                    node.fill_rows(rows, node.run_node(ctx, settings))
                except Skip as exc:
                    for key, _, _ in NODE_ROWS:
                        rows[key].missing = str(exc)
            else:
                for key, _, _ in NODE_ROWS:
                    rows[key].missing = "skipped: no node run (--no-node / tiny mode)"

            timed: dict[str, Timed] = {}
            for case in CASES:
                try:
                    timed[case.key] = case.setup(ctx)
                except Skip as exc:
                    rows[case.key].missing = str(exc)
                except Exception as exc:
                    rows[case.key].missing = f"error: {type(exc).__name__}: {exc}".splitlines()[0][:200]
            say(f"timing {len(timed)} cases, {settings.rounds} rounds")
            for key, samples in time_cases(timed, settings, gate).items():
                row = rows[key]
                row.samples = samples
                row.us, row.spread = median_spread(samples)
            for count in (1, 10, 100):
                row = rows[f"matcher_{count}"]
                if row.us is not None:
                    patterns, path = matcher_patterns(count), apps.PROTECTED + "/settings"
                    alone = matcher_call_us(patterns, path, 200 if settings.iterations else 20000)
                    row.note = f"Matcher.matches() alone: {alone:.2f} µs"

            if len(started) == len(apps.SERVER_KINDS):
                say("loading the servers")
                try:
                    _server_rows(rows, started, ctx, settings, gate)
                except Exception as exc:
                    for key, _, _ in SERVER_ROWS:
                        rows[key].missing = f"error: {type(exc).__name__}: {exc}".splitlines()[0]
            if settings.server and settings.callgrind:
                say(f"counting instructions under callgrind, {settings.callgrind_requests} requests a server")
                try:
                    _instruction_counts(rows, ctx, settings)
                except Exception as exc:
                    failure = f"{type(exc).__name__}: {exc}".splitlines()[0]
                    _note_server_rows(rows, f"no instruction count: {failure}")
    finally:
        for srv in started.values():
            srv.stop()
    add_notes(rows)
    add_targets(rows)
    return [rows[key] for key in ROW_KEYS]


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="python bench/run.py")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run: fewer and shorter rounds")
    parser.add_argument(
        "-o",
        "--output",
        type=pathlib.Path,
        default=DEFAULT_OUTPUT,
        help=f"where to write the markdown (default {DEFAULT_OUTPUT.relative_to(ROOT)})",
    )
    parser.add_argument("--rounds", type=int, help="timed rounds per row")
    parser.add_argument("--round-ms", type=float, help="length of one round of one row, in ms")
    parser.add_argument("--iterations", type=int, help="fixed calls per round instead of calibrating")
    parser.add_argument("--server-seconds", type=float, help="load time per server")
    parser.add_argument("--clients", type=int, help="load client processes")
    parser.add_argument("--no-server", action="store_true", help="skip the loopback server rows")
    parser.add_argument("--no-node", action="store_true", help="skip the next-auth (node) rows")
    parser.add_argument(
        "--no-callgrind", action="store_true", help="skip the server rows' instruction counts (valgrind)"
    )
    parser.add_argument("--no-quiet", action="store_true", help="keep every round (no quiet gate)")
    parser.add_argument(
        "--quiet-budget", type=float, help="seconds the quiet gate may spend waiting and re-running rounds"
    )
    args = parser.parse_args(argv)
    settings = Settings.quick() if args.quick else Settings()
    if args.rounds:
        settings.rounds = args.rounds
    if args.round_ms:
        settings.round_seconds = args.round_ms / 1000
    if args.iterations:
        settings.iterations = args.iterations
    if args.server_seconds:
        settings.server_seconds = args.server_seconds
    if args.clients:
        settings.clients = args.clients
    settings.server = settings.server and not args.no_server
    settings.node = settings.node and not args.no_node
    settings.callgrind = settings.callgrind and not args.no_callgrind
    settings.quiet = settings.quiet and not args.no_quiet
    if args.quiet_budget is not None:
        settings.quiet_budget_seconds = args.quiet_budget

    def log(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    gate = quiet_gate(settings)
    if gate is not None:
        log(f"quiet gate: the reference loop's fastest is {gate.fastest_ns / 1000:.1f} µs")
    rows = run_benchmarks(settings, log=log, gate=gate)
    if gate is not None:
        log(gate.describe())
    text = render(rows, settings, gate)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    log(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
