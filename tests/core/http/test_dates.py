"""The wire spellings of a moment (:mod:`flask_authguard.core.http.dates`): the same text as the
``datetime`` way (werkzeug's ``http_date``, ``datetime.isoformat``) for every timestamp."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug import http

from flask_authguard.core.http.dates import http_date, iso_ms

#: Years 1000 to 9999: every moment ``datetime`` can write with a four-digit year.
TIMESTAMPS = st.floats(min_value=-30610224000.0, max_value=253402300799.0, allow_nan=False)
EDGES = [0.0, 1e9, 1_700_000_000.9999, 1_700_000_000.0005, 1_700_000_000.9999996, -4e-7, 253402300799.999]


def _datetime_iso(timestamp: float) -> str:
    moment = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


@pytest.mark.parametrize(
    ("timestamp", "text"),
    [
        pytest.param(1_700_003_600, "2023-11-14T23:13:20.000Z", id="whole-second"),
        pytest.param(1_700_003_600.5679, "2023-11-14T23:13:20.567Z", id="milliseconds-truncated"),
        pytest.param(0, "1970-01-01T00:00:00.000Z", id="epoch"),
    ],
)
def test_iso_ms_is_javascripts_to_iso_string(timestamp: float, text: str) -> None:
    assert iso_ms(timestamp) == text


@given(TIMESTAMPS)
def test_iso_ms_of_a_timestamp_is_the_datetime_spelling(timestamp: float) -> None:
    assert iso_ms(timestamp) == _datetime_iso(timestamp)


@pytest.mark.parametrize("timestamp", EDGES)
def test_iso_ms_rounds_microseconds_as_datetime_does(timestamp: float) -> None:
    assert iso_ms(timestamp) == _datetime_iso(timestamp)


@given(TIMESTAMPS)
def test_http_date_of_a_timestamp_is_werkzeugs(timestamp: float) -> None:
    assert http_date(timestamp) == http.http_date(timestamp)


@pytest.mark.parametrize("timestamp", EDGES)
def test_http_date_rounds_as_werkzeug_does(timestamp: float) -> None:
    assert http_date(timestamp) == http.http_date(timestamp)


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(2027, 1, 6, 20, 0, 0, 999_999, tzinfo=dt.timezone.utc),
        dt.datetime(2027, 1, 6, 20, 0, 0),  # naive: UTC
        dt.datetime(2027, 1, 6, 21, 30, tzinfo=dt.timezone(dt.timedelta(hours=1, minutes=30))),
    ],
)
def test_a_datetime_is_written_the_datetime_way(moment: dt.datetime) -> None:
    assert http_date(moment) == http.http_date(moment) == "Wed, 06 Jan 2027 20:00:00 GMT"
    assert iso_ms(moment).startswith("2027-01-06T20:00:00.")
