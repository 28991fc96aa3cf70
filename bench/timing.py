"""How ``bench/run.py`` measures: the settings, calibration, interleaved rounds and medians.

Every case is warmed up and its iterations per round calibrated from the warm-up (or fixed, in
the smoke test's tiny mode); then the cases are timed in interleaved rounds, each round running
every case once in a rotating order, so a load spike on the machine hits all rows alike. A row's
figure is the median of its rounds and its spread half their inter-quartile range.
"""

from __future__ import annotations

import dataclasses
import gc
import statistics
import time
import typing as t

from flask_authguard.core.matcher import compile_matcher

Timed = t.Callable[[], object]


@dataclasses.dataclass
class Settings:
    """How long and how much to measure."""

    #: Timed rounds per case; a row reports the median.
    rounds: int = 15
    #: Target length of one round of one case (iterations are calibrated from the warm-up).
    round_seconds: float = 0.04
    #: Fixed iterations per round instead of calibrating (the smoke test's tiny mode).
    iterations: int | None = None
    #: Warm-up per case before timing (seconds, or ``warmup`` calls when ``iterations`` is set).
    warmup_seconds: float = 0.25
    warmup: int = 20
    #: The gunicorn rows and the in-process vs HTTP row.
    server: bool = True
    server_seconds: float = 5.0
    server_rounds: int = 2
    clients: int = 2
    workers: int = 2
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
            server_rounds=1,
            node_rounds=5,
            node_iterations=100,
        )

    @classmethod
    def tiny(cls) -> Settings:
        """50 iterations a round, no server, no node: proves the rows run, measures nothing."""
        return cls(rounds=3, iterations=50, warmup=5, server=False, node=False)


def median_spread(samples: list[float]) -> tuple[float, float]:
    """The median of ``samples`` and half their inter-quartile range (half the range below 4)."""
    median = statistics.median(samples)
    if len(samples) >= 4:
        q1, _, q3 = statistics.quantiles(samples, n=4)
        return median, (q3 - q1) / 2
    return median, (max(samples) - min(samples)) / 2


def time_cases(timed: dict[str, Timed], settings: Settings) -> dict[str, list[float]]:
    """Warm up and calibrate each case, then time them in interleaved rounds: µs per call."""
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
            gc.collect()
            start_ns = time.perf_counter_ns()
            for _ in range(n):
                fn()
            # A batched caller (the ASGI rows: requests awaited in one event-loop run) makes
            # ``batch`` requests per call.
            per_call = n * getattr(fn, "batch", 1)
            samples[key].append((time.perf_counter_ns() - start_ns) / per_call / 1000)
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
