"""The hot path of two checkouts, timed against each other on the same machine in the same run.

.. code-block:: console

    $ python bench/compare.py --base 5b7f741               # base commit vs this working tree
    $ python bench/compare.py --base 5b7f741 --head HEAD --rows with_auth_valid,authguard_valid
    $ python bench/compare.py --base HEAD --quick          # a fast smoke run
    $ python bench/compare.py --base main --rows db_guard_sqlite,db_guard_postgresql

``--base`` (and ``--head``, when given) is checked out with ``git worktree add --detach`` into a
temporary directory, removed afterwards; without ``--head`` the head is this working tree as it
is, uncommitted changes included. Each checkout is imported in its own long-lived subprocess
running ``bench/compare_worker.py`` (this checkout's copy, passed to both, so both time exactly
the same rows through the public API only, whatever the old checkout's ``bench/`` looks like);
a row the old package cannot run (a name it lacks, an answer that differs) says why instead.

Each row is warmed up in both processes and given the same number of calls per round on both
sides; then the rounds interleave: every round times every row once in each process, one process
at a time (the other waits on its stdin), the order of the rows rotating and the side that goes
first alternating. ``change %`` compares the medians of the rounds; ``per-round %`` is the median
of each round's own head/base ratio, which a load drift between rounds affects less. The bare
rows run the same code on both sides, so their change is the noise of the run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import typing as t

BENCH_DIR = pathlib.Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORKER = BENCH_DIR / "compare_worker.py"
#: What ``--rows`` defaults to: the hot-path rows (their bare rows are added by themselves).
DEFAULT_ROWS = (
    "with_auth_valid",
    "with_auth_no_cookie",
    "authguard_valid",
    "authguard_no_cookie",
    "get_server_session",
    "get_token",
)


class CompareError(Exception):
    """The comparison cannot run (a bad revision, a worker that failed); the message says why."""


@dataclasses.dataclass
class Settings:
    """How long and how much to measure (the same for both checkouts)."""

    rounds: int = 21
    round_seconds: float = 0.04
    warmup_seconds: float = 0.25
    #: Fixed calls per round (and warm-up calls) instead of calibrating.
    iterations: int | None = None

    @classmethod
    def quick(cls) -> Settings:
        """The ``--quick`` run: fewer and shorter rounds."""
        return cls(rounds=5, round_seconds=0.01, warmup_seconds=0.05)


# -- checkouts ----------------------------------------------------------------------------------


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise CompareError(f"git {' '.join(args)}: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout.strip()


def describe(rev: str | None) -> str:
    """``<short sha> <subject>`` of ``rev``; ``None``: this working tree (``+dirty`` if changed)."""
    if rev is None:
        dirty = "+dirty" if _git("status", "--porcelain") else ""
        return f"working tree at {_git('log', '-1', '--format=%h', 'HEAD')}{dirty}"
    return _git("log", "-1", "--format=%h %s", _commit(rev))[:90]


def _commit(rev: str) -> str:
    try:
        return _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except CompareError:
        raise CompareError(f"not a commit in this repository: {rev!r}") from None


@contextlib.contextmanager
def checkout(rev: str | None) -> t.Iterator[pathlib.Path]:
    """A directory holding ``rev`` (a temporary ``git worktree``, removed after), or this tree."""
    if rev is None:
        yield ROOT
        return
    sha = _commit(rev)
    where = pathlib.Path(tempfile.mkdtemp(prefix="authguard-compare-")) / sha[:12]
    _git("worktree", "add", "--detach", "--quiet", str(where), sha)
    try:
        yield where
    finally:
        with contextlib.suppress(CompareError, subprocess.SubprocessError):
            _git("worktree", "remove", "--force", str(where))
        shutil.rmtree(where.parent, ignore_errors=True)
        with contextlib.suppress(CompareError, subprocess.SubprocessError):
            _git("worktree", "prune")


# -- the worker processes -----------------------------------------------------------------------


class Worker:
    """One checkout's ``compare_worker.py`` process."""

    def __init__(self, name: str, root: pathlib.Path, rows: t.Sequence[str] = ()) -> None:
        self.name = name
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXTAUTH_", "AUTH_", "VERCEL"))}
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(root), ",".join(rows)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            cwd=root,
            env=env,
        )
        hello = self._read()
        package = pathlib.Path(hello["package"]).resolve()
        if not package.is_relative_to(root.resolve()):
            self.close()
            raise CompareError(f"{name}: imported flask_authguard from {package}, not from {root}")
        self.rows: dict[str, tuple[str, str | None]] = {k: (v[0], v[1]) for k, v in hello["rows"].items()}
        self.failed: dict[str, str] = hello["failed"]

    def _read(self) -> dict[str, t.Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=30)
            self._stderr.seek(0)
            last = (self._stderr.read().strip().splitlines() or ["no output"])[-1]
            raise CompareError(f"{self.name}: the worker exited ({self.proc.returncode}): {last}")
        return t.cast("dict[str, t.Any]", json.loads(line))

    def ask(self, **command: t.Any) -> dict[str, float]:
        """Send one command; the ``us`` figures it answers with."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return t.cast("dict[str, float]", self._read()["us"])

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self._stderr):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.close()


# -- timing and the table -----------------------------------------------------------------------


@dataclasses.dataclass
class Result:
    """One row of the comparison: the rounds of each side."""

    key: str
    label: str
    baseline: str | None
    base: list[float] = dataclasses.field(default_factory=list)
    head: list[float] = dataclasses.field(default_factory=list)
    missing: str = ""


def with_baselines(keys: t.Sequence[str], known: dict[str, tuple[str, str | None]]) -> list[str]:
    """``keys`` with the bare row each is measured over, bare rows first, in the worker's order."""
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise CompareError(f"unknown rows: {', '.join(unknown)} (known: {', '.join(known)})")
    wanted = set(keys) | {known[k][1] for k in keys if known[k][1]}
    return [k for k in known if k in wanted]


def time_both(base: Worker, head: Worker, keys: list[str], settings: Settings) -> dict[str, Result]:
    """Calibrate on both sides, then the interleaved rounds: the results by key."""
    results = {k: Result(k, *head.rows[k]) for k in keys}
    for key, result in results.items():
        reasons = [f"{w.name}: {w.failed[key]}" for w in (base, head) if key in w.failed]
        result.missing = "; ".join(reasons)
    timed = [k for k in keys if not results[k].missing]
    if not timed:
        return results
    calls = settings.iterations
    warm = {"rows": timed, "seconds": settings.warmup_seconds, "calls": calls}
    per_call = [base.ask(cmd="calibrate", **warm), head.ask(cmd="calibrate", **warm)]
    iterations = {
        k: calls or max(5, int(settings.round_seconds / (sum(p[k] for p in per_call) / 2 / 1e6)))
        for k in timed
    }
    for r in range(settings.rounds):
        shift = r % len(timed)
        order = timed[shift:] + timed[:shift]
        sides = [(base, "base"), (head, "head")]
        for worker, side in sides if r % 2 == 0 else sides[::-1]:
            for key, us in worker.ask(cmd="round", order=order, iterations=iterations).items():
                getattr(results[key], side).append(us)
    return results


def _pct(new: float, old: float) -> str:
    return f"{(new / old - 1) * 100:+.1f}"


def render(results: dict[str, Result], base_name: str, head_name: str, settings: Settings) -> str:
    """The markdown: where and how, then one line per row."""
    try:
        load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except (OSError, AttributeError):
        load = "load average ?"
    calls = (
        f"{settings.iterations} calls" if settings.iterations else f"~{settings.round_seconds * 1000:g} ms"
    )
    out = [
        "# flask_authguard hot path: base vs head",
        "",
        f"- base: {base_name}",
        f"- head: {head_name}",
        f"- Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {load}",
        f"- {settings.rounds} interleaved rounds ({calls} per row per round, the same on both sides; "
        "the side going first alternates); figures are medians of the rounds",
        "- change % = head median / base median - 1; per-round % = median of the rounds' own ratios; "
        "the bare rows run the same code on both sides (their change is this run's noise)",
        "",
        "| row | scenario | base µs | head µs | change % | per-round % | base over bare µs "
        "| head over bare µs |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results.values():
        if result.missing or not result.base or not result.head:
            out.append(f"| {result.key} | {result.label} | | | | | | {result.missing or 'no rounds'} |")
            continue
        base, head = statistics.median(result.base), statistics.median(result.head)
        paired = statistics.median(h / b for h, b in zip(result.head, result.base, strict=True))
        over = ["", ""]
        bare = results.get(result.baseline) if result.baseline else None
        if bare is not None and bare.base and bare.head:
            over = [
                f"{base - statistics.median(bare.base):+.1f}",
                f"{head - statistics.median(bare.head):+.1f}",
            ]
        out.append(
            f"| {result.key} | {result.label} | {base:,.1f} | {head:,.1f} | {_pct(head, base)} "
            f"| {(paired - 1) * 100:+.1f} | {over[0]} | {over[1]} |"
        )
    return "\n".join(out) + "\n"


def compare(
    base_rev: str,
    head_rev: str | None,
    rows: t.Sequence[str],
    settings: Settings,
    log: t.Callable[[str], None],
) -> str:
    """Check out, start both workers, time, render: the markdown."""
    base_name, head_name = describe(base_rev), describe(head_rev)
    with checkout(base_rev) as base_root, checkout(head_rev) as head_root:
        log(f"base {base_name} in {base_root}; head {head_name} in {head_root}")
        workers: list[Worker] = []
        try:
            workers.append(Worker("base", base_root, rows))
            workers.append(Worker("head", head_root, rows))
            keys = with_baselines(rows, workers[1].rows)
            log(f"timing {len(keys)} rows, {settings.rounds} rounds on each side")
            results = time_both(workers[0], workers[1], keys, settings)
        finally:
            for worker in workers:
                worker.close()
    return render(results, base_name, head_name, settings)


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="python bench/compare.py")
    parser.add_argument("--base", required=True, help="the revision to compare with (e.g. 5b7f741)")
    parser.add_argument("--head", help="the revision to compare (default: this working tree as it is)")
    parser.add_argument(
        "--rows",
        help=f"comma-separated rows (default {','.join(DEFAULT_ROWS)}; also db_guard_sqlite, "
        "db_gss_sqlite, db_guard_postgresql, db_gss_postgresql: database sessions)",
    )
    parser.add_argument("--quick", action="store_true", help="a fast smoke run: fewer and shorter rounds")
    parser.add_argument("--rounds", type=int, help="interleaved rounds")
    parser.add_argument("--round-ms", type=float, help="length of one round of one row, in ms")
    parser.add_argument("--iterations", type=int, help="fixed calls per round instead of calibrating")
    parser.add_argument("-o", "--output", type=pathlib.Path, help="also write the markdown there")
    args = parser.parse_args(argv)
    settings = Settings.quick() if args.quick else Settings()
    if args.rounds:
        settings.rounds = args.rounds
    if args.round_ms:
        settings.round_seconds = args.round_ms / 1000
    if args.iterations:
        settings.iterations = args.iterations
    rows = [r.strip() for r in args.rows.split(",") if r.strip()] if args.rows else list(DEFAULT_ROWS)

    def log(message: str) -> None:
        print(f"[compare] {message}", file=sys.stderr, flush=True)

    try:
        text = compare(args.base, args.head, rows, settings, log)
    except CompareError as exc:
        print(f"compare.py: {exc}", file=sys.stderr)
        return 2
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
