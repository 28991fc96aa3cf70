"""The second factor's table of the SQLAlchemy adapter (``authguard_two_factor``), beside every
layout's tables on SQLite, PostgreSQL and MySQL/MariaDB: stored, read, and changed only by the
request that still holds the record it read."""

from __future__ import annotations

import threading
import typing as t

import pytest
from support.adapters import (
    SETUP_PARAMS,
    emptied_adapter,
    made_adapters,  # noqa: F401 - a fixture
    new_user,
    pg_engine,  # noqa: F401 - a fixture
    pg_schema,  # noqa: F401 - a fixture
)

pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter  # noqa: E402

RECORD = {"secret": "v1.sealed", "last_step": 100, "recovery_codes": ["a" * 64, "b" * 64]}


@pytest.fixture(params=SETUP_PARAMS)
def adapter(request: pytest.FixtureRequest) -> SQLAlchemyAdapter:
    layout, database = request.param
    return emptied_adapter(request, layout, database)


def test_save_and_get(adapter: SQLAlchemyAdapter) -> None:
    assert adapter.get_two_factor("1") is None
    assert adapter.save_two_factor("1", RECORD, None) is True
    assert adapter.get_two_factor("1") == RECORD
    assert adapter.get_two_factor("2") is None


def test_enrolling_twice_keeps_the_first(adapter: SQLAlchemyAdapter) -> None:
    assert adapter.save_two_factor("1", RECORD, None)
    assert adapter.save_two_factor("1", {**RECORD, "secret": "v1.other"}, None) is False
    assert adapter.get_two_factor("1") == RECORD


def test_an_update_needs_the_record_it_read(adapter: SQLAlchemyAdapter) -> None:
    adapter.save_two_factor("1", RECORD, None)
    used = {**RECORD, "last_step": 101}
    assert adapter.save_two_factor("1", used, RECORD) is True
    assert adapter.save_two_factor("1", {**RECORD, "last_step": 102}, RECORD) is False  # stale
    fewer = {**used, "recovery_codes": ["b" * 64]}
    assert adapter.save_two_factor("1", fewer, used) is True
    assert adapter.get_two_factor("1") == fewer
    assert adapter.save_two_factor("1", None, used) is False  # stale delete
    assert adapter.save_two_factor("1", None, fewer) is True
    assert adapter.get_two_factor("1") is None


def test_first_step_unset(adapter: SQLAlchemyAdapter) -> None:
    fresh = {**RECORD, "last_step": None}
    adapter.save_two_factor("1", fresh, None)
    assert adapter.save_two_factor("1", RECORD, fresh) is True


def test_one_code_used_concurrently_wins_once(adapter: SQLAlchemyAdapter) -> None:
    adapter.save_two_factor("1", RECORD, None)
    start = threading.Barrier(6)
    results: list[bool] = []

    def worker() -> None:
        start.wait()
        results.append(adapter.save_two_factor("1", {**RECORD, "last_step": 101}, RECORD))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]


@pytest.mark.parametrize("user_id", ["", "x" * 256, "a\x00b", 7])
def test_ids_no_row_can_hold_find_nothing(adapter: SQLAlchemyAdapter, user_id: t.Any) -> None:
    assert adapter.get_two_factor(user_id) is None


def test_user_ids_match_exactly(adapter: SQLAlchemyAdapter) -> None:
    """No MySQL collation gives ``Alice`` the second factor of ``alice``."""
    assert adapter.save_two_factor("alice", RECORD, None)
    assert adapter.get_two_factor("Alice") is None
    assert adapter.get_two_factor("alice ") is None
    assert adapter.save_two_factor("Alice", {**RECORD, "secret": "v1.hers"}, None) is True
    assert adapter.get_two_factor("alice") == RECORD


def test_deleting_the_user_deletes_its_second_factor(adapter: SQLAlchemyAdapter) -> None:
    user, other = new_user(adapter), new_user(adapter, email="bob@example.com")
    adapter.save_two_factor(user["id"], RECORD, None)
    adapter.save_two_factor(other["id"], RECORD, None)
    adapter.delete_user(user["id"])
    assert adapter.get_two_factor(user["id"]) is None
    assert adapter.get_two_factor(other["id"]) == RECORD
