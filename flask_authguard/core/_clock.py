"""The one clock every module reads, so tests can freeze time in one place."""

from __future__ import annotations

import time

#: Seconds since the epoch. Read it as ``_clock.now()`` (never import the name itself) so that
#: tests can monkeypatch it here.
now = time.time
