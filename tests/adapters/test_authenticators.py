"""The passkey methods of ``SQLAlchemyAdapter`` (Auth.js's ``Authenticator`` table in the pg
layout), on SQLite and PostgreSQL."""

from __future__ import annotations

import typing as t

import pytest

sa = pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
from support.adapters import (  # noqa: E402
    make_adapter,
    new_user,
    pg_engine,  # noqa: F401 - a fixture
    pg_schema,  # noqa: F401 - a fixture
)

from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter  # noqa: E402


@pytest.fixture(params=["sqlite", "postgresql"])
def adapter(request: pytest.FixtureRequest) -> SQLAlchemyAdapter:
    return make_adapter(request.param, request)


def passkey(user_id: str, credential_id: str = "q83vEjRWeJA=", **fields: t.Any) -> dict[str, t.Any]:
    return {
        "credentialID": credential_id,
        "userId": user_id,
        "providerAccountId": credential_id,
        "credentialPublicKey": "pQECAyYgASFYIA==",
        "counter": 0,
        "credentialDeviceType": "multiDevice",
        "credentialBackedUp": True,
        "transports": "internal,hybrid",
        **fields,
    }


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
    # a signature count past 2**31 still fits
    updated = adapter.update_authenticator_counter("q83vEjRWeJA=", 2**32 - 1)
    assert updated["counter"] == 2**32 - 1 == adapter.get_authenticator("q83vEjRWeJA=")["counter"]  # type: ignore[index]
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
    user = new_user(adapter)
    adapter.create_authenticator(passkey(user["id"]))
    adapter.delete_user(user["id"])
    assert adapter.get_authenticator("q83vEjRWeJA=") is None


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
