"""The Auth.js adapters for Prisma and Drizzle under Node.js (``tests/node_prisma``,
``tests/node_drizzle``): their install, their JSON pipe, and the values that cross it.

Each project's pinned packages are installed once per machine into the cache of
``tests/support/nodejs.py`` (``<name>-<hash of package.json and package-lock.json>``). Its
``helper.mjs`` answers a JSON list of requests with a list of ``{ok, value | error}``; dates cross
the pipe as ``{"$date": "<ISO 8601>"}`` both ways.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import pathlib
import secrets
import typing as t

import sqlalchemy as sa

from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter
from support import TESTS
from support.adapters import passkey
from support.nodejs import cached_install, check_node_version, npm_install, run_helper, tool

PACKAGE_FILES = ("package.json", "package-lock.json")
UTC = dt.timezone.utc


def install(name: str) -> pathlib.Path:
    """``tests/node_<name>``'s pinned packages, installed unless the cache has them; the directory
    to run in.

    :raises NodeUnavailable: no Node.js/npm, or the install failed.
    """
    source = TESTS / f"node_{name}"
    digest = hashlib.sha256()
    for file in PACKAGE_FILES:
        digest.update(file.encode() + b"\0" + (source / file).read_bytes() + b"\0")
    node, npm = tool("node"), tool("npm")
    check_node_version(node)
    return cached_install(
        f"{name}-{digest.hexdigest()[:16]}",
        lambda where: npm_install(npm, where, source, PACKAGE_FILES, "--legacy-peer-deps"),
        source / "helper.mjs",
    )


def run(where: pathlib.Path, requests: list[dict[str, t.Any]]) -> list[t.Any]:
    """The helper's answers to ``requests`` (one Node.js process), decoded; every one must succeed."""
    results = run_helper(where, encode(requests))
    for result in results:
        assert result["ok"], f"the node helper failed: {result['error']['message']}"
    return [decode(result["value"]) for result in results]


def encode(value: t.Any) -> t.Any:
    if isinstance(value, dt.datetime):
        return {"$date": value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    return value


def decode(value: t.Any) -> t.Any:
    if isinstance(value, dict):
        if set(value) == {"$date"}:
            return dt.datetime.fromisoformat(value["$date"].replace("Z", "+00:00"))
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def soon(days: float) -> dt.datetime:
    """A moment ``days`` from now, in milliseconds (what a JavaScript ``Date`` holds)."""
    moment = dt.datetime.now(UTC) + dt.timedelta(days=days)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def describe(adapter: SQLAlchemyAdapter) -> dict[str, t.Any]:
    """For each of the layout's tables: its columns (name, type, nullable), primary key, unique
    column sets (constraints or indexes) and foreign keys (with their ``ON DELETE``)."""
    inspector = sa.inspect(adapter.engine)
    schema = adapter.metadata.schema
    described = {}
    for table in adapter.tables:  # the layout's, not ours beside them (authguard_two_factor)
        name = table.name
        if adapter.engine.dialect.name == "sqlite":  # the inspector misses ON DELETE after ON UPDATE
            with adapter.engine.connect() as conn:
                rows = conn.exec_driver_sql(f'PRAGMA foreign_key_list("{name}")').all()
            foreign = [((row[3],), row[2], row[6].upper()) for row in rows]
        else:
            foreign = [
                (
                    tuple(f["constrained_columns"]),
                    f["referred_table"],
                    f["options"].get("ondelete", "").upper(),
                )
                for f in inspector.get_foreign_keys(name, schema)
            ]
        unique = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(name, schema)}
        unique |= {tuple(i["column_names"]) for i in inspector.get_indexes(name, schema) if i["unique"]}
        described[name] = (
            [(c["name"], str(c["type"]).upper(), c["nullable"]) for c in inspector.get_columns(name, schema)],
            inspector.get_pk_constraint(name, schema)["constrained_columns"],
            sorted(unique),
            sorted(foreign),
        )
    return described


# -- the checks both adapters' suites run ----------------------------------------------------


def unique(name: str) -> str:
    """An email address no other test uses."""
    return f"{name}-{secrets.token_hex(4)}@example.com"


def passkeys_both_ways(adapter: SQLAlchemyAdapter, js: t.Callable[..., list[t.Any]]) -> None:
    """Auth.js's passkeys are ours and ours are Auth.js's: created, listed, counted, by either
    (``js`` runs requests through the Auth.js adapter, as the suites' ``shared.js`` does)."""
    email = unique("kai")
    theirs, ours = "js" + secrets.token_hex(6), "py" + secrets.token_hex(6)
    [user, created] = js(
        ("createUser", [{"name": "Kai", "email": email, "emailVerified": None, "image": None}]),
        ("createAuthenticator", [passkey({"$ref": [0, "id"]}, theirs, credentialBackedUp=False)]),
    )
    assert adapter.get_authenticator(theirs) == {**passkey(user["id"], theirs), "credentialBackedUp": False}
    assert adapter.update_authenticator_counter(theirs, 7)["counter"] == 7
    adapter.create_authenticator(passkey(user["id"], ours, transports=None))
    [found, listed, counted] = js(
        ("getAuthenticator", [ours]),
        ("listAuthenticatorsByUserId", [user["id"]]),
        ("updateAuthenticatorCounter", [ours, 3]),
    )
    assert found == passkey(user["id"], ours, transports=None)
    assert sorted((a["credentialID"], a["counter"]) for a in listed) == sorted([(theirs, 7), (ours, 0)])
    assert counted["counter"] == 3 and adapter.get_authenticator(ours)["counter"] == 3  # type: ignore[index]
    assert adapter.delete_user(user["id"]) is not None
    assert js(("getAuthenticator", [theirs]), ("getAuthenticator", [ours])) == [None, None]


def refreshed_tokens_both_ways(adapter: SQLAlchemyAdapter, js: t.Callable[..., list[t.Any]]) -> None:
    """The account row Auth.js linked is the one we read and refresh (``refresh=True``), and the
    refreshed tokens are what Auth.js reads."""
    email = unique("ray")
    account_id = "gh-" + email
    [user, _] = js(
        ("createUser", [{"name": "Ray", "email": email, "emailVerified": None, "image": None}]),
        (
            "linkAccount",
            [
                {
                    "userId": {"$ref": [0, "id"]},
                    "type": "oauth",
                    "provider": "github",
                    "providerAccountId": account_id,
                    "access_token": "at-1",
                    "refresh_token": "rt-1",
                    "expires_at": 1_700_000_000,
                    "token_type": "bearer",
                }
            ],
        ),
    )
    found = adapter.get_user_account(user["id"], "github")
    assert found is not None and (found["access_token"], found["refresh_token"]) == ("at-1", "rt-1")
    refreshed = {"access_token": "at-2", "refresh_token": "rt-2", "expires_at": 1_700_003_600}
    adapter.update_account({"provider": "github", "providerAccountId": account_id, **refreshed})
    [by_account, account] = js(
        ("getUserByAccount", [{"provider": "github", "providerAccountId": account_id}]),
        ("getAccount", [account_id, "github"]),
    )
    assert by_account["id"] == user["id"]
    assert {name: account[name] for name in refreshed} == refreshed
