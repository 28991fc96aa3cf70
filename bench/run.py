"""flask_authguard benchmarks: one command, one markdown table, each target with its verdict.

.. code-block:: console

    $ pip install -e ".[bench,asgi,sqlalchemy,redis]"
    $ python bench/run.py            # the full run (several minutes), writes bench/results.md
    $ python bench/run.py --quick    # shorter rounds and smaller counts
    $ python bench/run.py --tiny -o /tmp/b.md   # every row runs once or twice: proves, measures nothing

Two kinds of rows:

- **µs per request**: each WSGI app is called directly with a prepared environ (a fresh copy a
  call, the body consumed and closed); the ASGI apps with an ``http`` scope, twenty requests a
  run of the event loop. Every row is warmed up, then timed in interleaved rounds (each round
  runs every row once, in a rotating order, so a load spike hits all rows alike); a figure is
  the median of its rounds and ``±`` half their inter-quartile range.
  Besides the rows that replay one valid cookie (so the verified-token cache answers), the
  traffic rows send what a busy site gets: many distinct users each with a token of its own
  (more than the cache holds: each request decrypts), and browsers that keep the rolled cookie
  ``get_server_session()`` sends back, as a browser does, and send it on their next request.
- **instructions per request**, counted by callgrind (``bench/instructions.py`` says how): the
  same in-process apps, and a gunicorn ``gthread`` worker over three routes. Counts repeat
  from run to run (within 2%) whatever the machine's load; the issue's cost targets are counts.

(next-auth itself under Node.js is not timed here; ``tests/interop/test_interop_node.py`` runs it for
behaviour.) A row that needs a missing package or service says so instead of a figure. The targets are
:data:`TARGETS`, each judged on a row's difference from (or ratio to) its baseline row. No row
is a test: ``tests/bench/test_bench_smoke.py`` checks that every row runs and is printed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime as dt
import functools
import gc
import itertools
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
import warnings
from importlib import metadata

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``flask_authguard`` importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from bench import apps, instructions  # noqa: E402
from flask_authguard import with_auth  # noqa: E402

BENCH_DIR = pathlib.Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent


@dataclasses.dataclass(frozen=True)
class Target:
    """At most ``limit`` over the row's baseline (``ratio``: at most ``limit`` times it)."""

    limit: float
    ratio: bool = False


#: Every target, in one place. Issue 29 (item 4): instructions a request over the bare app,
#: valid cookie, cache warm, the view reading the token. Issue 15: µs over the baseline row,
#: met before and to stay met.
TARGETS: dict[str, Target] = {
    "count_with_auth": Target(25_000),
    "count_authguard": Target(46_000),
    "count_auth_required": Target(46_000),
    "count_asgi": Target(50_000),
    "worker_hello": Target(64_000),
    "worker_json": Target(64_000),
    "worker_template": Target(64_000),
    "get_server_session": Target(35),
    "with_auth_no_cookie": Target(12),
    "authguard_no_cookie": Target(25),
    "users_with_auth_v5": Target(1.3, ratio=True),
    "db_sqlite": Target(90),
    "db_postgresql": Target(250),
    "authguard_redis": Target(30),
}

US, COUNT = "µs", "instructions"
#: The table: key, what the row measures, its baseline row (group headings between). The
#: ``count_`` and ``worker_`` rows are instructions a request, the others µs.
ROWS: list[tuple[str, str, str | None] | str] = [
    "µs per request: one valid cookie replayed (the verified-token cache answers)",
    ("wsgi_bare", "plain WSGI app (no auth)", None),
    ("with_auth", "`with_auth` over it, valid cookie, the app reading the token", "wsgi_bare"),
    ("with_auth_no_cookie", "`with_auth`, no session cookie (307 to sign-in)", "wsgi_bare"),
    ("flask_bare", "bare Flask route (no auth)", None),
    ("authguard", "`AuthGuard` site-wide, valid cookie, view reading `g.auth_token`", "flask_bare"),
    ("authguard_no_cookie", "`AuthGuard`, no session cookie (307 to sign-in)", "flask_bare"),
    ("auth_required", "`@auth_required` view (nothing site-wide), valid cookie", "flask_bare"),
    (
        "get_server_session",
        "`get_server_session()` in a view (decode, re-encode, Set-Cookie)",
        "flask_bare",
    ),
    ("flask_session", "peer: Flask's own signed-cookie session holding the user", "flask_bare"),
    ("flask_login", "peer: Flask-Login `@login_required` (session cookie + user_loader)", "flask_bare"),
    ("jwt_extended", "peer: Flask-JWT-Extended `@jwt_required()` (HS256 cookie)", "flask_bare"),
    ("starlette_bare", "bare Starlette route (no auth)", None),
    ("asgi", "ASGI `AuthMiddleware`, valid cookie, route reading the token", "starlette_bare"),
    (
        "fastapi_nextauth_jwt",
        "peer: fastapi-nextauth-jwt `NextAuthJWTv4` in an ASGI middleware",
        "starlette_bare",
    ),
    "µs per request: realistic traffic",
    ("users_with_auth", "`with_auth`, many distinct users in turn, each its own v4 token", "wsgi_bare"),
    ("users_with_auth_v5", "the same with Auth.js v5 tokens (ratio to the v4 row)", "users_with_auth"),
    ("users_authguard", "`AuthGuard` site-wide, many distinct users in turn", "flask_bare"),
    (
        "browsers_gss",
        "`AuthGuard` + `get_server_session()`, browsers keeping the rolled cookie",
        "flask_bare",
    ),
    "µs per request: database sessions and the Redis store",
    ("db_sqlite", "`AuthGuard` on database sessions, SQLite file", "authguard"),
    ("db_postgresql", "`AuthGuard` on database sessions, PostgreSQL on 127.0.0.1", "authguard"),
    ("authguard_redis", "`AuthGuard`, revocation store on Redis (`store_cache` on)", "authguard"),
    "Instructions per request, in-process (callgrind; valid cookie, cache warm, the view reading the token)",
    ("count_wsgi_bare", "plain WSGI app", None),
    ("count_with_auth", "`with_auth` over a plain WSGI app", "count_wsgi_bare"),
    (
        "count_floor",
        "reference: the floor, issue 29's lean prototype on today's primitives (`bench/apps.py` `floor_app`)",
        "count_wsgi_bare",
    ),
    (
        "count_inline",
        "reference: every step of `with_auth`'s check inline in one function (`bench/apps.py` `inline_app`)",
        "count_wsgi_bare",
    ),
    ("count_flask_bare", "bare Flask", None),
    ("count_authguard", "`AuthGuard` site-wide over bare Flask", "count_flask_bare"),
    ("count_auth_required", "`@auth_required` view over bare Flask", "count_flask_bare"),
    ("count_flask_session", "peer: Flask's own signed-cookie session", "count_flask_bare"),
    ("count_flask_login", "peer: Flask-Login", "count_flask_bare"),
    ("count_jwt_extended", "peer: Flask-JWT-Extended", "count_flask_bare"),
    ("count_starlette_bare", "bare Starlette", None),
    ("count_asgi", "ASGI `AuthMiddleware` over bare Starlette", "count_starlette_bare"),
    (
        "count_fastapi_nextauth_jwt",
        "peer: fastapi-nextauth-jwt over bare Starlette",
        "count_starlette_bare",
    ),
    "Instructions per request, a gunicorn gthread worker (callgrind; `AuthGuard` site-wide vs bare)",
    *(
        row
        for route in apps.ROUTES
        for row in (
            (f"worker_bare_{route[1:]}", f"bare worker, GET {route}", None),
            (f"worker_{route[1:]}", f"guarded worker, GET {route}", f"worker_bare_{route[1:]}"),
        )
    ),
]
ROW_KEYS = [row[0] for row in ROWS if isinstance(row, tuple)]


@dataclasses.dataclass
class Settings:
    """How long and how much to measure."""

    rounds: int = 15
    #: Length of one round of one row (iterations calibrated from the warm-up) ...
    round_seconds: float = 0.04
    warmup_seconds: float = 0.25
    #: ... or a fixed number of calls a round (the tiny mode).
    iterations: int | None = None
    #: Distinct users of the traffic rows (the verified-token cache holds 1024) and browsers.
    users: int = 2000
    browsers: int = 200
    #: Requests a counted batch (``n``, then ``2n``); ``callgrind=False`` checks without counting.
    count_requests: int = 200
    worker_requests: int = 200
    callgrind: bool = True

    @classmethod
    def quick(cls) -> Settings:
        return cls(rounds=5, round_seconds=0.01, warmup_seconds=0.05, count_requests=50, worker_requests=50)

    @classmethod
    def tiny(cls) -> Settings:
        """Every row runs; nothing is measured (the smoke test)."""
        return cls(
            rounds=2,
            iterations=3,
            warmup_seconds=0.0,
            users=20,
            browsers=5,
            count_requests=2,
            worker_requests=2,
            callgrind=False,
        )


@dataclasses.dataclass
class Row:
    key: str
    label: str
    baseline: str | None
    value: float | None = None
    spread: float | None = None
    #: Why there is no figure ("not installed: ...", "no PostgreSQL ...", "skipped: ...").
    missing: str = ""
    verdict: str = ""

    @property
    def kind(self) -> str:
        return COUNT if self.key.startswith(("count_", "worker_")) else US


# -- the traffic rows -----------------------------------------------------------------------------


def _users(count: int, version: int = 4) -> list[dict[str, t.Any]]:
    return [
        apps.environ_for(apps.cookie_header(apps.make_token(version, sub=str(i)), version))
        for i in range(count)
    ]


def _browsers(count: int) -> apps.Timed:
    """``count`` browsers in turn, each sending the session cookie the last answer set."""
    app = apps.gss_flask(site_wide=True)
    name = apps.cookie_name() + "="
    base = apps.environ_for(None)
    cookies = [apps.cookie_header(apps.make_token(sub=str(i))) for i in range(count)]
    turn = itertools.cycle(range(count))
    rolled = [0]

    def call() -> None:
        i = next(turn)

        def start(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> None:
            for header, value in headers:
                if header == "Set-Cookie" and value.startswith(name):
                    cookies[i] = value.split(";", 1)[0] + "; " + apps.NOISE_COOKIES
                    rolled[0] += 1

        result = app(dict(base, HTTP_COOKIE=cookies[i]), start)
        for _ in result:
            pass
        result.close()

    call()
    if rolled[0] != 1:
        raise RuntimeError("get_server_session() did not roll the browser's cookie")
    return call


def _setups(
    settings: Settings, cleanups: list[t.Callable[[], None]]
) -> dict[str, t.Callable[[], apps.Timed]]:
    def database(url: str) -> apps.Timed:
        call, cleanup = apps.database_guarded(url)
        cleanups.append(cleanup)
        return call

    sqlite_dir = tempfile.mkdtemp(prefix="authguard-bench-")
    return {
        **{key: apps.REQUESTS[key] for key in ROW_KEYS if key in apps.REQUESTS},
        "users_with_auth": lambda: apps.checked(
            with_auth(apps.token_wsgi_app, {"secret": apps.SECRET}), *_users(settings.users), body=apps.HELLO
        ),
        "users_with_auth_v5": lambda: apps.checked(
            with_auth(apps.token_wsgi_app, {"secret": apps.SECRET, "version": 5}),
            *_users(settings.users, 5),
            body=apps.HELLO,
        ),
        "users_authguard": lambda: apps.checked(
            apps.guarded_flask(), *_users(settings.users), body=apps.HELLO
        ),
        "browsers_gss": lambda: _browsers(settings.browsers),
        "db_sqlite": lambda: database(f"sqlite:///{sqlite_dir}/sessions.db"),
        "db_postgresql": lambda: database(apps.POSTGRES_URL),
        "authguard_redis": apps.redis_guarded,
    }


# -- timing ------------------------------------------------------------------------------------


def time_rows(timed: dict[str, apps.Timed], settings: Settings) -> dict[str, list[float]]:
    """Warm up and calibrate each row, then time them in interleaved rounds: µs per request."""
    calls: dict[str, int] = {}
    for key, fn in timed.items():
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < settings.warmup_seconds or count < 3:
            fn()
            count += 1
        calls[key] = settings.iterations or max(5, int(settings.round_seconds / (elapsed / count)))
    samples: dict[str, list[float]] = {key: [] for key in timed}
    keys = list(timed)
    for r in range(settings.rounds):
        for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
            fn, n = timed[key], calls[key]
            gc.collect()
            start_ns = time.perf_counter_ns()
            for _ in range(n):
                fn()
            samples[key].append((time.perf_counter_ns() - start_ns) / (n * getattr(fn, "batch", 1)) / 1000)
    return samples


# -- the run -------------------------------------------------------------------------------------


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _counts(rows: dict[str, Row], settings: Settings) -> None:
    """The instruction rows: the in-process count and the two workers side by side (a count does
    not depend on the machine's load)."""
    reason = instructions.unavailable() if settings.callgrind else None
    counted = {key: row for key, row in rows.items() if row.kind == COUNT}
    headers = {"Cookie": apps.cookie_header(apps.make_token()), "Host": "localhost:5000", **apps.HEADERS}
    jobs: dict[str, t.Callable[[], dict[str, t.Any]]] = {
        "count_": lambda: instructions.count_in_process(
            [key[6:] for key in counted if key.startswith("count_")],
            settings.count_requests,
            callgrind=settings.callgrind,
        ),
        **{
            prefix: functools.partial(
                instructions.count_worker,
                kind,
                headers,
                settings.worker_requests,
                callgrind=settings.callgrind,
            )
            for prefix, kind in (("worker_bare_", "bare"), ("worker_", "guarded"))
        },
    }
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        futures = {prefix: pool.submit(job) for prefix, job in jobs.items() if reason is None}
    for prefix, future in futures.items():
        try:
            found = {prefix + name.strip("/"): value for name, value in future.result().items()}
        except Exception as exc:
            reason = f"error: {type(exc).__name__}: {exc}".splitlines()[0][:300]
            found = {}
        for key, row in counted.items():
            if key in found and isinstance(found[key], int):
                row.value = found[key]
            elif key in found and found[key] is not None:
                row.missing = found[key]
            elif key in found:
                row.missing = (
                    "skipped: counted without callgrind (tiny mode): the requests ran, nothing was counted"
                )
    for row in counted.values():
        if row.value is None and not row.missing:
            row.missing = reason or "error: not counted"


def run(settings: Settings, log: t.Callable[[str], None] = lambda _: None) -> list[Row]:
    """Measure every row that can run here; the rows in table order, with their verdicts."""
    rows = {key: Row(key, label, base) for key, label, base in (r for r in ROWS if isinstance(r, tuple))}
    cleanups: list[t.Callable[[], None]] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # peers' deprecation warnings are not the subject
            timed: dict[str, apps.Timed] = {}
            for key, setup in _setups(settings, cleanups).items():
                try:
                    timed[key] = setup()
                except apps.Skip as exc:
                    rows[key].missing = str(exc)
                except Exception as exc:
                    rows[key].missing = f"error: {type(exc).__name__}: {exc}".splitlines()[0][:300]
            log(f"timing {len(timed)} rows, {settings.rounds} rounds")
            for key, samples in time_rows(timed, settings).items():
                rows[key].value = statistics.median(samples)
                q1, _, q3 = statistics.quantiles(samples, n=4) if len(samples) > 1 else (0, 0, 0)
                rows[key].spread = (q3 - q1) / 2
    finally:
        for cleanup in cleanups:
            cleanup()
    log(
        "counting instructions"
        + (" under callgrind (a few minutes)" if settings.callgrind else " (checks only)")
    )
    _counts(rows, settings)
    if settings.iterations is None:  # (the tiny mode's figures measure nothing)
        judge(rows)
    return list(rows.values())


def judge(rows: dict[str, Row]) -> None:
    """Each target's verdict on its row: "met" or "MISSED", with the figure it was judged on."""
    for key, target in TARGETS.items():
        row = rows[key]
        base = rows[row.baseline] if row.baseline else None
        if row.value is None or base is None or not base.value:
            continue
        if target.ratio:
            figure, shown = row.value / base.value, f"{row.value / base.value:.2f}×"
        else:
            figure, shown = row.value - base.value, _number(row.value - base.value, row.kind, sign=True)
        row.verdict = f"{'met' if figure <= target.limit else 'MISSED'} ({shown})"


# -- the markdown ---------------------------------------------------------------------------------


def _number(value: float, kind: str, *, sign: bool = False) -> str:
    text = f"{value:+,.1f}" if sign else f"{value:,.1f}"
    return text if kind == US else f"{value:+,.0f}" if sign else f"{value:,.0f}"


def _target(row: Row) -> str:
    target = TARGETS.get(row.key)
    if target is None:
        return ""
    if target.ratio:
        return f"≤ {target.limit:g}× {row.baseline}"
    return "≤ " + _number(target.limit, row.kind, sign=True) + (" µs" if row.kind == US else "")


def _versions() -> str:
    names = (
        "flask",
        "werkzeug",
        "cryptography",
        "gunicorn",
        "flask-jwt-extended",
        "flask-login",
        "fastapi-nextauth-jwt",
    )
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def render(rows: list[Row], settings: Settings) -> str:
    """The markdown document: where and how the figures were taken, then the table."""
    by_key = {row.key: row for row in rows}
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    )
    each = f"{settings.iterations} calls" if settings.iterations else f"~{settings.round_seconds * 1000:g} ms"
    caveat = " Tiny mode: every row ran, the figures measure nothing and are not judged."
    if not settings.iterations:
        load = os.getloadavg()[1]  # others' work stretches every µs, not the counts
        caveat = ""
        if load > (os.cpu_count() or 1):
            caveat = (
                f" **The machine was busy during this run (load average {load:.1f} over 5 minutes): the "
                "µs figures are stretched by others' work; their verdicts judge the machine, not the code.**"
            )
    out = [
        "# flask_authguard benchmarks",
        "",
        f"- {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit.stdout.strip() or '?'}; "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, "
        "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        f"- {_versions()}",
        f"- µs: median of {settings.rounds} interleaved rounds of {each} a row, after a warm-up; ± is half "
        "the inter-quartile range. The machine is a shared, noisy VM: µs move with the other guests' load, "
        f"instruction counts do not.{caveat}",
        f"- traffic rows: {settings.users} distinct users (the verified-token cache holds 1024), "
        f"{settings.browsers} browsers keeping their rolled cookie",
        f"- instructions: callgrind, batches of {settings.count_requests} and {2 * settings.count_requests} "
        f"requests in-process, {settings.worker_requests} and {2 * settings.worker_requests} a worker route "
        "(`bench/instructions.py`)",
        "",
        "| row | scenario | figure | over baseline | target | verdict |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    for entry in ROWS:
        if isinstance(entry, str):
            out.append(f"| **{entry}** |  |  |  |  |  |")
            continue
        row = by_key[entry[0]]
        base = by_key[row.baseline] if row.baseline else None
        figure, over = row.missing, ""
        if row.value is not None:
            figure = _number(row.value, row.kind) + (
                f" ± {row.spread:.1f} µs" if row.spread is not None else ""
            )
        if row.value is not None and base is not None and base.value:
            over = f"{row.value / base.value:.2f}× {base.key}"
            if not (row.key in TARGETS and TARGETS[row.key].ratio):
                over = _number(row.value - base.value, row.kind, sign=True)
        out.append("| " + " | ".join([row.key, row.label, figure, over, _target(row), row.verdict]) + " |")
    verdicts = [by_key[key].verdict.split(" ")[0] for key in TARGETS]
    out += [
        "",
        f"Targets: {verdicts.count('met')} met, {verdicts.count('MISSED')} missed, "
        f"{verdicts.count('')} not measured here (of {len(TARGETS)}).",
    ]
    return "\n".join(out) + "\n"


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter rounds and smaller counts")
    parser.add_argument(
        "--tiny", action="store_true", help="every row runs, nothing is measured (smoke test)"
    )
    parser.add_argument("-o", "--output", type=pathlib.Path, default=BENCH_DIR / "results.md")
    parser.add_argument(
        "--no-counts", action="store_true", help="skip callgrind (the counted requests still run)"
    )
    args = parser.parse_args(argv)
    settings = Settings.tiny() if args.tiny else Settings.quick() if args.quick else Settings()
    settings.callgrind = settings.callgrind and not args.no_counts
    text = render(run(settings, _say), settings)
    print(text)
    args.output.write_text(text, encoding="utf-8")
    _say(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
