"""``get_user_account`` and ``update_account`` of ``SQLAlchemyAdapter`` (provider token refresh
with database sessions), on every layout on SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest

sa = pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
from support.adapters import (  # noqa: E402
    SETUP_PARAMS,
    emptied_adapter,
    made_adapters,  # noqa: F401 - a fixture
    new_user,
    pg_engine,  # noqa: F401 - a fixture
    pg_schema,  # noqa: F401 - a fixture
)

from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter  # noqa: E402


@pytest.fixture(params=SETUP_PARAMS)
def adapter(request: pytest.FixtureRequest) -> SQLAlchemyAdapter:
    layout, database = request.param
    return emptied_adapter(request, layout, database)


def account(user_id: str, provider: str = "github", **tokens: t.Any) -> dict[str, t.Any]:
    return {
        "userId": user_id,
        "type": "oauth",
        "provider": provider,
        "providerAccountId": "42",
        "access_token": "at-1",
        "refresh_token": "rt-1",
        "expires_at": 1_700_000_000,
        **tokens,
    }


def test_get_user_account(adapter: SQLAlchemyAdapter) -> None:
    user, other = new_user(adapter), new_user(adapter, email="bob@example.com")
    adapter.link_account(account(user["id"]))
    adapter.link_account({**account(other["id"], "google"), "providerAccountId": "7"})
    found = adapter.get_user_account(user["id"], "github")
    assert found is not None
    assert found["userId"] == user["id"]
    assert (found["access_token"], found["expires_at"]) == ("at-1", 1_700_000_000)
    assert adapter.get_user_account(user["id"], "google") is None
    assert adapter.get_user_account(other["id"], "github") is None
    for bad in ("", "a\x00b", "x" * 256):
        assert adapter.get_user_account(bad, "github") is None
        assert adapter.get_user_account(user["id"], bad) is None


def test_update_account(adapter: SQLAlchemyAdapter) -> None:
    user = new_user(adapter)
    adapter.link_account(account(user["id"]))
    updated = adapter.update_account(
        {"provider": "github", "providerAccountId": "42", "access_token": "at-2", "expires_at": 1_700_003_600}
    )
    assert updated is not None
    assert (updated["access_token"], updated["refresh_token"], updated["expires_at"]) == (
        "at-2",
        "rt-1",  # not given: kept
        1_700_003_600,
    )
    assert adapter.get_user_account(user["id"], "github") == updated
    unknown = {"provider": "github", "providerAccountId": "43", "access_token": "x"}
    assert adapter.update_account(unknown) is None
    assert adapter.update_account({"provider": "", "providerAccountId": "42"}) is None


@pytest.mark.parametrize("database", ["sqlite", "postgresql", "mysql"])
def test_update_account_stamps_prisma_rows(request: pytest.FixtureRequest, database: str) -> None:
    """Prisma's client sets ``updatedAt`` at every update (no database default): so do we."""
    adapter = emptied_adapter(request, "prisma", database)
    user = new_user(adapter)
    adapter.link_account(account(user["id"]))
    accounts = adapter.tables.accounts
    long_ago = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    with adapter.engine.begin() as conn:
        conn.execute(sa.update(accounts).values(updatedAt=long_ago))
    adapter.update_account({"provider": "github", "providerAccountId": "42", "access_token": "at-2"})
    with adapter.engine.connect() as conn:
        updated_at = conn.execute(sa.select(accounts.c.updatedAt)).scalar_one()
    assert updated_at > long_ago + dt.timedelta(days=365)
