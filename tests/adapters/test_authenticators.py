"""The passkey methods of ``SQLAlchemyAdapter`` (Auth.js's ``Authenticator`` table: pg's
``authenticators``, Prisma's ``Authenticator``, Drizzle's ``authenticator``), on every layout on
SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

import typing as t

import pytest

sa = pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
from support.adapters import (  # noqa: E402
    SETUP_PARAMS,
    emptied_adapter,
    made_adapters,  # noqa: F401 - a fixture
    new_user,
    passkey,
    pg_engine,  # noqa: F401 - a fixture
    pg_schema,  # noqa: F401 - a fixture
)

from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter  # noqa: E402


@pytest.fixture(params=SETUP_PARAMS)
def adapter(request: pytest.FixtureRequest) -> SQLAlchemyAdapter:
    layout, database = request.param
    return emptied_adapter(request, layout, database)


def top_counter(adapter: SQLAlchemyAdapter) -> int:
    """The largest signature count the table holds: pg's ``BIGINT`` any 32-bit unsigned count,
    Prisma's and Drizzle's ``Int`` (as in Auth.js's schemas) up to 2**31 - 1 (SQLite: any)."""
    if adapter.layout.name == "pg" or adapter.engine.dialect.name == "sqlite":
        return 2**32 - 1
    return 2**31 - 1


def test_create_get_list_update_delete(adapter: SQLAlchemyAdapter) -> None:
    user = new_user(adapter)
    other = new_user(adapter, email="bob@example.com")
    created = adapter.create_authenticator(passkey(user["id"]))
    assert created == passkey(user["id"])
    adapter.create_authenticator(passkey(user["id"], "AAECAw==", transports=None, credentialBackedUp=False))
    adapter.create_authenticator(passkey(other["id"], "BBBB"))
    assert adapter.get_authenticator("q83vEjRWeJA=") == created
    assert [a["credentialID"] for a in adapter.list_authenticators_by_user_id(user["id"])] == [
        "AAECAw==",
        "q83vEjRWeJA=",
    ]
    assert adapter.list_authenticators_by_user_id(user["id"])[0]["transports"] is None
    top = top_counter(adapter)
    updated = adapter.update_authenticator_counter("q83vEjRWeJA=", top)
    assert updated["counter"] == top == adapter.get_authenticator("q83vEjRWeJA=")["counter"]  # type: ignore[index]
    assert updated["userId"] == user["id"] and updated["credentialBackedUp"] is True
    assert adapter.delete_authenticator("q83vEjRWeJA=") == updated
    assert adapter.delete_authenticator("q83vEjRWeJA=") is None
    assert adapter.get_authenticator("q83vEjRWeJA=") is None
    assert [a["credentialID"] for a in adapter.list_authenticators_by_user_id(other["id"])] == ["BBBB"]


def test_a_credential_is_stored_once(adapter: SQLAlchemyAdapter) -> None:
    user, other = new_user(adapter), new_user(adapter, email="bob@example.com")
    adapter.create_authenticator(passkey(user["id"]))
    with pytest.raises(sa.exc.IntegrityError):
        adapter.create_authenticator(passkey(other["id"]))
    with pytest.raises(sa.exc.IntegrityError):
        adapter.create_authenticator(passkey("999", "CCCC"))  # no such user


def test_credential_ids_match_exactly(adapter: SQLAlchemyAdapter) -> None:
    """Base64 ids differ by case: no MySQL collation finds, counts or deletes another's passkey."""
    user = new_user(adapter)
    adapter.create_authenticator(passkey(user["id"], "AbCd"))
    assert adapter.get_authenticator("abcd") is None
    assert adapter.get_authenticator("AbCd ") is None
    with pytest.raises(LookupError):
        adapter.update_authenticator_counter("ABCD", 5)
    assert adapter.delete_authenticator("abcd") is None
    assert adapter.get_authenticator("AbCd")["counter"] == 0  # type: ignore[index]


def test_booleans_and_empty_transports_read_back(adapter: SQLAlchemyAdapter) -> None:
    """Drizzle's SQLite ``credentialBackedUp`` is an INTEGER, MySQL's a TINYINT: a ``bool`` comes back."""
    user = new_user(adapter)
    adapter.create_authenticator(passkey(user["id"], credentialBackedUp=False, transports=""))
    found = adapter.get_authenticator("q83vEjRWeJA=")
    assert found is not None and found["credentialBackedUp"] is False and found["transports"] is None


@pytest.mark.parametrize("bad", [None, "", "a\x00b", "x" * 256, 5])
def test_lookups_with_impossible_ids_find_nothing(adapter: SQLAlchemyAdapter, bad: t.Any) -> None:
    assert adapter.get_authenticator(bad) is None
    assert adapter.delete_authenticator(bad) is None
    assert adapter.list_authenticators_by_user_id(bad) == []
    with pytest.raises(LookupError):
        adapter.update_authenticator_counter(bad, 1)


@pytest.mark.parametrize("bad", [-1, 2**32, True, "3", None])
def test_counter_must_be_a_signature_count(adapter: SQLAlchemyAdapter, bad: t.Any) -> None:
    user = new_user(adapter)
    with pytest.raises(ValueError):
        adapter.create_authenticator(passkey(user["id"], counter=bad))
    adapter.create_authenticator(passkey(user["id"]))
    with pytest.raises(ValueError):
        adapter.update_authenticator_counter("q83vEjRWeJA=", bad)


def test_deleting_the_user_deletes_its_passkeys(adapter: SQLAlchemyAdapter) -> None:
    user, other = new_user(adapter), new_user(adapter, email="bob@example.com")
    adapter.create_authenticator(passkey(user["id"]))
    adapter.create_authenticator(passkey(other["id"], "BBBB"))
    adapter.delete_user(user["id"])
    assert adapter.get_authenticator("q83vEjRWeJA=") is None
    assert adapter.get_authenticator("BBBB") is not None


def test_the_table_has_auth_js_columns(adapter: SQLAlchemyAdapter) -> None:
    columns = {c["name"] for c in sa.inspect(adapter.engine).get_columns(
        adapter.authenticators.name, schema=adapter.metadata.schema
    )}  # fmt: skip
    assert columns == {
        "credentialID",
        "userId",
        "providerAccountId",
        "credentialPublicKey",
        "counter",
        "credentialDeviceType",
        "credentialBackedUp",
        "transports",
    }
