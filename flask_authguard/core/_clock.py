"""The one clock every module reads, so tests can freeze time in one place."""

from __future__ import annotations

import time


def now() -> float:
    """Seconds since the epoch; tests monkeypatch this function."""
    return time.time()
