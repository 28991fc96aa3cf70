"""The table layouts (``flask_authguard.adapters.layouts``): choosing one, its names and ids, and the
Prisma schema read from the tables. The JavaScript adapters themselves run in
``tests/interop/test_interop_prisma.py`` and ``test_interop_drizzle.py``."""

from __future__ import annotations

import datetime as dt
import re
import time
import typing as t

import pytest

sa = pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')

from support.adapters import pg_engine, pg_schema  # noqa: E402, F401

from flask_authguard.adapters.layouts import (  # noqa: E402
    DRIZZLE_TABLE_NAMES,
    LAYOUT_NAMES,
    PRISMA_TABLE_NAMES,
    layout_named,
    new_cuid,
    new_uuid,
)
from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter  # noqa: E402
from flask_authguard.adapters.two_factor import TWO_FACTOR_TABLE  # noqa: E402
from flask_authguard.core.errors import BackendUnavailableError, ConfigurationError  # noqa: E402

UTC = dt.timezone.utc


@pytest.mark.parametrize("layout", ["prism", "", "PG", None, 3])
def test_an_unknown_layout_is_a_configuration_error(layout: t.Any) -> None:
    with pytest.raises(ConfigurationError, match="unknown layout"):
        SQLAlchemyAdapter("sqlite://", layout=layout)


@pytest.mark.parametrize(
    ("layout", "names"),
    [
        ("pg", ["users", "accounts", "sessions", "verification_token", "authenticators"]),
        ("prisma", list(PRISMA_TABLE_NAMES.values())),
        ("drizzle", list(DRIZZLE_TABLE_NAMES.values())),
    ],
)
def test_default_table_names(layout: str, names: list[str], request: pytest.FixtureRequest) -> None:
    adapter = SQLAlchemyAdapter("sqlite://", layout=layout, create_tables=True)
    request.addfinalizer(adapter.close)
    assert list(adapter.tables.names().values()) == names
    ours = {TWO_FACTOR_TABLE}  # beside every layout's tables
    assert set(sa.inspect(adapter.engine).get_table_names()) == set(names) | ours
    assert set(adapter.metadata.tables) == set(names) | ours  # what Alembic's target_metadata sees
    assert repr(adapter).endswith(f"layout={layout!r}>")


def test_table_names_map_roles_to_mapped_names(request: pytest.FixtureRequest) -> None:
    names = {"users": "users", "accounts": "accounts", "authenticators": "passkeys"}
    adapter = SQLAlchemyAdapter("sqlite://", layout="prisma", table_names=names, create_tables=True)
    request.addfinalizer(adapter.close)
    assert adapter.tables.names() == {
        "users": "users",
        "accounts": "accounts",
        "sessions": "Session",
        "verification_token": "VerificationToken",
        "authenticators": "passkeys",
    }
    pg = SQLAlchemyAdapter("sqlite://", table_names={"authenticators": "passkeys"})
    assert pg.tables.names()["authenticators"] == "passkeys"
    with pytest.raises(ConfigurationError, match="authenticators"):
        SQLAlchemyAdapter("sqlite://", table_names={"passkeys": "passkeys"})


def test_layouts() -> None:
    assert LAYOUT_NAMES == ("pg", "prisma", "drizzle")
    assert layout_named("pg").new_id is None  # serial ids
    assert layout_named("prisma").new_id is new_cuid and layout_named("drizzle").new_id is new_uuid


def test_new_ids() -> None:
    cuids = [new_cuid() for _ in range(200)]
    assert all(re.fullmatch(r"c[0-9a-z]{24}", cuid) for cuid in cuids) and len(set(cuids)) == 200
    time.sleep(0.002)
    assert new_cuid()[:9] > cuids[0][:9]  # ordered by creation time, as cuid()s are
    uuid = new_uuid()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", uuid)


@pytest.mark.parametrize(
    ("columns", "account_id"),
    [
        pytest.param({"users": set(), "accounts": {"id"}, "sessions": {"id"}}, True, id="v4"),
        pytest.param({"users": set(), "accounts": set(), "sessions": set()}, False, id="v5-no-stamps"),
        pytest.param(
            {"users": {"createdAt", "updatedAt"}, "accounts": {"id", "updatedAt"}, "sessions": {"createdAt"}},
            True,
            id="mixed",
        ),
    ],
)
def test_the_prisma_schema_is_read_from_the_tables(
    columns: dict[str, set[str]], account_id: bool, tmp_path: t.Any
) -> None:
    """Tables of another Prisma schema than the default: the adapter writes what they need."""
    path = tmp_path / "auth.sqlite3"
    layout = layout_named("prisma")
    metadata = sa.MetaData()
    shape = {role: frozenset(names) for role, names in columns.items()}
    theirs = layout.define(metadata, layout.names(None), shape)
    engine = sa.create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    adapter = SQLAlchemyAdapter(str(path), layout="prisma")  # told nothing
    try:
        assert "createdAt" in adapter.tables.users.c  # the default until a write reads the tables
        user = adapter.create_user({"name": "Ann", "email": "ann@example.com"})
        assert ("createdAt" in adapter.tables.users.c) == ("createdAt" in columns["users"])
        assert ("id" in adapter.tables.accounts.c) is account_id
        adapter.link_account(
            {"userId": user["id"], "type": "oauth", "provider": "p", "providerAccountId": "1"}
        )
        adapter.create_session({"sessionToken": "tok", "userId": user["id"], "expires": dt.datetime.now(UTC)})
        adapter.update_session({"sessionToken": "tok", "expires": dt.datetime.now(UTC)})
        assert adapter.get_session_and_user("tok") is not None
        with engine.connect() as conn:
            account = conn.execute(sa.select(theirs.accounts)).one()._mapping
            if account_id:
                assert re.fullmatch(r"c[0-9a-z]{24}", account["id"])
            for role, table in (
                ("users", theirs.users),
                ("accounts", theirs.accounts),
                ("sessions", theirs.sessions),
            ):
                row = conn.execute(sa.select(table)).one()._mapping
                for stamp in ("createdAt", "updatedAt"):
                    assert (stamp in row and row[stamp] is not None) is (stamp in columns[role])
    finally:
        adapter.close()
        engine.dispose()


def test_missing_prisma_tables_are_read_again_later(tmp_path: t.Any) -> None:
    path = tmp_path / "auth.sqlite3"
    adapter = SQLAlchemyAdapter(str(path), layout="prisma")
    try:
        with pytest.raises(BackendUnavailableError, match="create_user failed"):  # no tables yet
            adapter.create_user({"name": "Ann", "email": "ann@example.com"})
        layout = layout_named("prisma")
        metadata = sa.MetaData()
        layout.define(
            metadata,
            layout.names(None),
            {"users": frozenset(), "accounts": frozenset(), "sessions": frozenset()},
        )
        engine = sa.create_engine(f"sqlite:///{path}")
        metadata.create_all(engine)
        engine.dispose()
        adapter.create_user({"name": "Ann", "email": "ann@example.com"})  # read now: no createdAt
        assert "createdAt" not in adapter.tables.users.c
    finally:
        adapter.close()


def test_naive_utc_whatever_the_zone_of_the_process_and_the_server(
    pg_engine: t.Any,  # noqa: F811
    pg_schema: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``TIMESTAMP`` without time zone (Prisma, Drizzle) holds the UTC wall time, whatever the
    ``TZ`` of the process or the ``TimeZone`` of the connection."""
    from support.adapters import postgres_url

    monkeypatch.setenv("TZ", "Pacific/Chatham")  # +13:45
    time.tzset()
    url = sa.engine.make_url(postgres_url()).update_query_dict({"options": "-c TimeZone=America/Caracas"})
    names = {role: f"tz_{name}" for role, name in DRIZZLE_TABLE_NAMES.items()}
    adapter = SQLAlchemyAdapter(
        url, layout="drizzle", schema=pg_schema, table_names=names, create_tables=True
    )
    try:
        moment = dt.datetime(2030, 6, 1, 12, 30, 15, 250000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        user = adapter.create_user({"name": "Tz", "email": "tz@example.com", "emailVerified": moment})
        with pg_engine.connect() as conn:  # another connection, in the server's zone
            stored = conn.execute(
                sa.text(f'select "emailVerified"::text from "{pg_schema}"."tz_user" where id = :id'),
                {"id": user["id"]},
            ).scalar()
        assert stored == "2030-06-01 10:30:15.25"
        assert adapter.get_user(user["id"])["emailVerified"] == moment.astimezone(UTC)  # type: ignore[index]
    finally:
        adapter.drop_tables()
        adapter.close()
        monkeypatch.undo()
        time.tzset()
