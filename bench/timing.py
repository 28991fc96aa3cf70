"""How ``bench/run.py`` measures: the settings, calibration, interleaved rounds, the quiet gate
and medians.

Every case is warmed up and its iterations per round calibrated from the warm-up (or fixed, in
the smoke test's tiny mode); then the cases are timed in interleaved rounds, each round running
every case once in a rotating order, so a load spike on the machine hits all rows alike. A row's
figure is the median of its rounds and its spread half their inter-quartile range.

The quiet gate (:class:`QuietGate`) keeps a round only when the machine ran at its quiet speed
around it. A virtual machine's speed can swing by 1.8× from one tenth of a second to the next
while the host's other guests come and go; interleaving spreads that swing over every row, but
it still moves each row's µs, and the targets are µs. So a fixed reference loop, which has
nothing to do with the code measured, is timed just before and just after each round; a round
counts only when both timings are within ``quiet_tolerance`` of the fastest the loop ever ran,
and is otherwise run again. The gate has a time budget: once spent, rounds are kept as they come,
and the table says how many were.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import math
import statistics
import time
import typing as t

from flask_authguard.core.matcher import compile_matcher

Timed = t.Callable[[], object]
Measured = t.TypeVar("Measured")


@dataclasses.dataclass
class Settings:
    """How long and how much to measure."""

    #: Timed rounds per case; a row reports the median.
    rounds: int = 15
    #: Target length of one round of one case (iterations are calibrated from the warm-up).
    round_seconds: float = 0.04
    #: Fixed iterations per round instead of calibrating (the smoke test's tiny mode).
    iterations: int | None = None
    #: The quiet gate: a round counts when the reference loop around it ran within this factor
    #: of its fastest; off in the tiny mode (it measures nothing there).
    quiet: bool = True
    quiet_tolerance: float = 1.20
    #: How long the reference loop is timed before the rounds, to find its fastest.
    quiet_calibrate_seconds: float = 3.0
    #: The longest wait for a quiet moment before one round, and for the whole run.
    quiet_wait_seconds: float = 2.0
    quiet_budget_seconds: float = 240.0
    #: Warm-up per case before timing (seconds, or ``warmup`` calls when ``iterations`` is set).
    warmup_seconds: float = 0.25
    warmup: int = 20
    #: The gunicorn rows and the in-process vs HTTP row.
    server: bool = True
    #: Load time per server, in windows of ``server_window_seconds`` taken in turn.
    server_seconds: float = 5.0
    server_window_seconds: float = 0.25
    clients: int = 2
    workers: int = 2
    #: The server rows' instruction counts (``bench/instructions.py``; needs valgrind).
    callgrind: bool = True
    callgrind_requests: int = 500
    #: The real next-auth rows (needs ``node`` and the tests/node install).
    node: bool = True
    node_rounds: int = 15
    node_iterations: int = 400

    @classmethod
    def quick(cls) -> Settings:
        """The ``--quick`` run: fewer and shorter rounds."""
        return cls(
            rounds=5,
            round_seconds=0.01,
            warmup_seconds=0.05,
            server_seconds=1.0,
            callgrind_requests=100,
            node_rounds=5,
            node_iterations=100,
            quiet_calibrate_seconds=1.0,
            quiet_budget_seconds=30.0,
        )

    @classmethod
    def tiny(cls) -> Settings:
        """50 iterations a round, no server, no node: proves the rows run, measures nothing."""
        return cls(rounds=3, iterations=50, warmup=5, server=False, node=False, quiet=False, callgrind=False)


def _reference_work() -> int:
    """The reference loop: calls, a loop, string and integer work, as the rows' own code does
    (about 0.25 ms on a quiet 2-vCPU VM)."""
    total = 0
    for i in range(3000):
        total += len(str(i)) + (i & 7)
    return total


@dataclasses.dataclass
class QuietGate:
    """Tells whether the machine runs at its quiet speed, by timing :func:`_reference_work`.

    :param tolerance: a timing within this factor of the fastest counts as quiet.
    :param wait_seconds: the longest :meth:`wait` for a quiet moment.
    :param budget_seconds: the time all waits and re-run rounds may take in one run; once spent,
        :meth:`open` is true and rounds are kept as they come.
    """

    tolerance: float = 1.20
    wait_seconds: float = 2.0
    budget_seconds: float = 240.0
    #: The fastest reference timing seen, and the last one, ns.
    fastest_ns: float = math.inf
    last_ns: float = math.inf
    #: The slower reference timing around each round kept quiet (judged against the fastest seen
    #: by then; :meth:`describe` judges them again against the run's fastest).
    kept_ns: list[float] = dataclasses.field(default_factory=list)
    #: Rounds run again, rounds kept after the budget ran out.
    rerun: int = 0
    unquiet: int = 0
    spent_seconds: float = 0.0

    @property
    def kept(self) -> int:
        """Rounds kept quiet."""
        return len(self.kept_ns)

    @property
    def open(self) -> bool:
        """The budget is spent: every round is kept."""
        return self.spent_seconds >= self.budget_seconds

    def probe(self) -> bool:
        """Time the reference loop: is the machine quiet now?

        The median of three runs: one run slowed by caches the round just timed left cold, or
        one lucky run in a slow moment, does not decide."""
        runs = []
        for _ in range(3):
            start = time.perf_counter_ns()
            _reference_work()
            runs.append(time.perf_counter_ns() - start)
        elapsed = sorted(runs)[1]
        self.last_ns = elapsed
        self.fastest_ns = min(self.fastest_ns, elapsed)
        return elapsed <= self.fastest_ns * self.tolerance

    def calibrate(self, seconds: float) -> None:
        """Time the reference loop for ``seconds`` to learn its fastest."""
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            self.probe()

    def wait(self) -> bool:
        """Probe until the machine is quiet, at most ``wait_seconds`` (none once the budget is
        spent): whether it is."""
        start = time.perf_counter()
        deadline = start + self.wait_seconds
        while not (quiet := self.probe()) and not self.open and time.perf_counter() < deadline:
            pass
        self.spent_seconds += time.perf_counter() - start
        return quiet

    def describe(self) -> str:
        """One line for the table's header: what the gate did in this run."""
        total = self.kept + self.unquiet
        line = (
            f"quiet gate: a round counts when a reference loop timed just before and just after it ran "
            f"within {self.tolerance:.2f}× of its fastest ({self.fastest_ns / 1000:.1f} µs); "
            f"{self.kept} of {total} rounds kept quiet, {self.rerun} re-run"
        )
        stale = sum(1 for ns in self.kept_ns if ns > self.fastest_ns * self.tolerance)
        if stale:
            line += f" ({stale} of the kept judged against a slower fastest than the run's final one)"
        if self.unquiet:
            line += f", {self.unquiet} kept unquiet after the gate's {self.budget_seconds:g} s budget ran out"
        return line


def median_spread(samples: list[float]) -> tuple[float, float]:
    """The median of ``samples`` and half their inter-quartile range (half the range below 4)."""
    median = statistics.median(samples)
    if len(samples) >= 4:
        q1, _, q3 = statistics.quantiles(samples, n=4)
        return median, (q3 - q1) / 2
    return median, (max(samples) - min(samples)) / 2


def quiet_gate(settings: Settings) -> QuietGate | None:
    """The run's calibrated :class:`QuietGate`, or ``None`` when ``settings.quiet`` is off."""
    if not settings.quiet:
        return None
    gate = QuietGate(settings.quiet_tolerance, settings.quiet_wait_seconds, settings.quiet_budget_seconds)
    gate.calibrate(settings.quiet_calibrate_seconds)
    return gate


def _time_round(fn: Timed, n: int) -> float:
    """µs per request of ``n`` calls of ``fn`` (the caller collects garbage first)."""
    start_ns = time.perf_counter_ns()
    for _ in range(n):
        fn()
    # A batched caller (the ASGI rows: requests awaited in one event-loop run) makes ``batch``
    # requests per call.
    return (time.perf_counter_ns() - start_ns) / (n * getattr(fn, "batch", 1)) / 1000


def gated(measure: t.Callable[[], Measured], gate: QuietGate) -> Measured:
    """Run ``measure`` (after a full collection) until the machine was quiet just before and
    just after it, or the gate's budget is spent: its last result."""
    while True:
        gc.collect()
        quiet_before, before_ns = gate.wait(), gate.last_ns
        start = time.perf_counter()
        result = measure()
        if quiet_before and gate.probe():
            gate.kept_ns.append(max(before_ns, gate.last_ns))
            return result
        if gate.open:
            gate.unquiet += 1
            return result
        gate.rerun += 1
        gate.spent_seconds += time.perf_counter() - start


def time_cases(
    timed: dict[str, Timed], settings: Settings, gate: QuietGate | None = None
) -> dict[str, list[float]]:
    """Warm up and calibrate each case, then time them in interleaved rounds: µs per call.

    :param gate: when given, each round is kept only once the machine was quiet around it."""
    iterations: dict[str, int] = {}
    for key, fn in timed.items():
        if settings.iterations is not None:
            for _ in range(settings.warmup):
                fn()
            iterations[key] = settings.iterations
            continue
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < settings.warmup_seconds or count < 3:
            fn()
            count += 1
        iterations[key] = max(5, int(settings.round_seconds / (elapsed / count)))
    samples: dict[str, list[float]] = {key: [] for key in timed}
    keys = list(timed)
    for r in range(settings.rounds):
        shift = r % len(keys) if keys else 0
        for key in keys[shift:] + keys[:shift]:
            fn, n = timed[key], iterations[key]
            if gate is None:
                gc.collect()
                samples[key].append(_time_round(fn, n))
            else:
                samples[key].append(gated(functools.partial(_time_round, fn, n), gate))
    return samples


def matcher_call_us(patterns: list[str], path: str, repeat: int = 20000) -> float:
    """Best-of-5 µs per ``Matcher.matches(path)`` for a matcher of ``patterns``."""
    matcher = compile_matcher(patterns)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(repeat):
            matcher.matches(path)
        best = min(best, (time.perf_counter_ns() - start) / repeat / 1000)
    return best
