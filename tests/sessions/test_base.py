"""Helpers shared by the session strategies (:mod:`flask_authguard.sessions.base`)."""

from __future__ import annotations


def test_iso_ms_matches_the_strftime_spelling() -> None:
    import datetime as dt
    import random

    from flask_authguard.sessions.base import iso_ms

    def general(timestamp: float) -> str:
        moment = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    rng = random.Random(15)
    stamps = [0.0, 1e9, 1_700_000_000.9999, 1_700_000_000.0005, 253402300799.999]
    stamps += [rng.uniform(-30000000000.0, 253402300799.0) for _ in range(2000)]
    for stamp in stamps:
        assert iso_ms(stamp) == general(stamp), stamp
