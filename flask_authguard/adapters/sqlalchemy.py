"""A database adapter on SQLAlchemy 2 (Core): SQLite embedded, PostgreSQL or MySQL/MariaDB to scale out.

.. code-block:: python

    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    adapter = SQLAlchemyAdapter("sqlite:///auth.db", create_tables=True)        # a file
    adapter = SQLAlchemyAdapter("sqlite://", create_tables=True)                # in memory
    adapter = SQLAlchemyAdapter("postgresql://app@db/app")                      # psycopg 3
    adapter = SQLAlchemyAdapter("mysql://app@db/app", layout="prisma")          # PyMySQL

The tables are those of an Auth.js adapter (:mod:`~flask_authguard.adapters.layouts`): by default
``@auth/pg-adapter``'s, with ``layout="prisma"`` those of ``@auth/prisma-adapter`` and with
``layout="drizzle"`` those of ``@auth/drizzle-adapter``. A Next.js app on that adapter and a Flask
app on this one share a database and read each other's sessions.

Every method that writes runs one short transaction; a single read (a user, a session with its
user) runs as one statement outside any transaction. Errors of the database (down, timeout, lost
connection, missing tables) are raised as
:class:`~flask_authguard.core.errors.BackendUnavailableError`; a constraint violation (a second user
with the same email, an account linked twice) as SQLAlchemy's ``IntegrityError``, a value the
column cannot hold as its ``DataError``. Lookups with text no row can hold (empty, NUL, longer
than the column) find nothing instead of failing.

A database that stops answering costs a prompt error, not a hung request: see the timeouts of
:mod:`flask_authguard.adapters.engine`.

This module holds the queries of users, accounts and verification tokens;
:mod:`~flask_authguard.adapters.session_rows` those of sessions,
:mod:`~flask_authguard.adapters.engine` makes the engine and
:mod:`~flask_authguard.adapters.records` turns rows into records.

Needs the extra: ``pip install "flask-authguard[sqlalchemy]"`` (and ``[mysql]`` for MySQL/MariaDB).

.. versionadded:: 0.1
"""

from __future__ import annotations

import logging
import typing as t

try:
    import sqlalchemy as sa
    from sqlalchemy.engine import URL, Engine
except ImportError as _error:  # pragma: no cover - the extra is not installed
    raise ImportError(
        'SQLAlchemyAdapter needs SQLAlchemy 2: pip install "flask-authguard[sqlalchemy]"'
    ) from _error

from . import (
    ACCOUNT_TOKEN_FIELDS,
    AdapterAccount,
    AdapterUser,
    VerificationToken,
)
from .account_tokens import AccountTokens
from .authenticators import Authenticators
from .engine import DEFAULT, Timeout, Turns, create_engine, engine_for
from .layouts import Layout, layout_named
from .reads import CompiledRead
from .records import (
    USER_FIELDS,
    account_record,
    need_datetime,
    need_id,
    usable,
    user_record,
    verification_record,
)
from .rows import Rows
from .schema import (
    DEFAULT_TABLE_NAMES,
    MAX_SESSION_TOKEN_LENGTH,
    Tables,
    UTCDateTime,
    UTCTimestamp,
    define_tables,
    session_and_user_query,
)
from .session_rows import SessionRows
from .two_factor import TwoFactorRows

logger = logging.getLogger("flask_authguard")


class SQLAlchemyAdapter(TwoFactorRows, Authenticators, AccountTokens, SessionRows, Rows):
    """next-auth's adapter on SQLAlchemy Core, on the tables of ``@auth/pg-adapter``,
    ``@auth/prisma-adapter`` or ``@auth/drizzle-adapter`` (and ours beside them: the second
    factor's, :mod:`~flask_authguard.adapters.two_factor`).

    :param engine_or_url: an :class:`~sqlalchemy.engine.Engine`, a database URL, or a SQLite
        file path (see :func:`create_engine` for what a URL gets). An engine you pass stays
        yours: :meth:`close` does not dispose of it.
    :param layout: whose tables: ``"pg"`` (default), ``"prisma"`` or ``"drizzle"``
        (:mod:`~flask_authguard.adapters.layouts`). Prisma's schema (next-auth v4's or Auth.js
        v5's, with or without ``createdAt``/``updatedAt``) is read from the tables at the first write.
    :param table_names: other names for some tables: ``{"users": "auth_users", ...}`` (Prisma's
        ``@@map`` names) with the roles ``users``, ``accounts``, ``sessions``,
        ``verification_token`` and ``authenticators`` (passkeys).
    :param create_tables: create missing tables (and the ``schema``) now; see
        :meth:`create_tables`.
    :param schema: the database schema holding the tables (PostgreSQL), default the
        connection's ``search_path``.
    :param connect_timeout: seconds to open a connection (default 3); ``None``: the driver's
        own (psycopg: 130).
    :param statement_timeout: seconds one statement may run, or wait for a SQLite lock
        (default 5); ``None``: no bound of ours.
    :param pool_timeout: seconds to wait for a free pooled connection (default 3).
    :raises ConfigurationError: a bad URL, layout, table name, timeout or missing driver; a
        timeout given with an engine (set it on your engine).
    :raises BackendUnavailableError: ``create_tables=True`` and the database cannot be reached.
    """

    def __init__(
        self,
        engine_or_url: Engine | str | URL,
        *,
        layout: str = "pg",
        table_names: t.Mapping[str, str] | None = None,
        create_tables: bool = False,
        schema: str | None = None,
        connect_timeout: Timeout = DEFAULT,
        statement_timeout: Timeout = DEFAULT,
        pool_timeout: Timeout = DEFAULT,
    ) -> None:
        #: Whose tables.
        self.layout: Layout = layout_named(layout)
        names = self.layout.names(table_names)
        engine, self._owns_engine = engine_for(
            engine_or_url,
            connect_timeout=connect_timeout,
            statement_timeout=statement_timeout,
            pool_timeout=pool_timeout,
        )
        #: The engine every operation runs on.
        self.engine: Engine = engine
        # Single reads send one statement: no BEGIN before it, no ROLLBACK when the connection
        # goes back to the pool. PostgreSQL: autocommit (psycopg sends nothing for an idle
        # connection). SQLite: the driver begins no transaction for a SELECT anyway, and the
        # isolation switch would cost a PRAGMA on every checkin. MySQL: the switch costs a
        # round trip each way, more than the ROLLBACK at checkin.
        plain = engine.dialect.name in ("sqlite", "mysql", "mariadb")
        self._reader: Engine = engine if plain else engine.execution_options(isolation_level="AUTOCOMMIT")
        self._define_tables(names, schema)
        # Built once, compiled at its first run, run on the driver's cursor (see .reads).
        self._session_lookup = CompiledRead(engine, session_and_user_query(self.tables))
        self._turns = Turns(engine)  # SQLite: this process's operations one at a time
        if create_tables:
            self.create_tables()

    def __repr__(self) -> str:
        url = self.engine.url.render_as_string(hide_password=True)
        return f"<SQLAlchemyAdapter {url} layout={self.layout.name!r}>"

    def close(self) -> None:
        """Close the connections of an engine this adapter made from a URL."""
        if self._owns_engine:
            self.engine.dispose()

    # -- users -------------------------------------------------------------------------------

    def create_user(self, user: t.Mapping[str, t.Any]) -> AdapterUser:
        """Insert a user; ``id`` is made here (a ``cuid()``-like or UUID text, by the layout) or
        assigned by the database (serial ids); any given ``id`` is ignored.

        :raises sqlalchemy.exc.IntegrityError: another user has this email.
        """
        values = {name: user.get(name) for name in USER_FIELDS}
        if values["emailVerified"] is not None:
            need_datetime(values["emailVerified"], "emailVerified")
        users = self._shaped().users
        row = self._new_row(users, values)
        with self._transaction("create_user") as conn:
            result = conn.execute(sa.insert(users).values(**row))
            (new_id,) = result.inserted_primary_key  # type: ignore[misc]
        return {"id": str(new_id), **values}  # type: ignore[typeddict-item]

    def get_user(self, id: str) -> AdapterUser | None:
        """The user with this id; ``None`` also for an id that cannot be one (``"abc"`` for
        serial ids)."""
        key = self._id(id)
        if key is None:
            return None
        users = self.tables.users
        row = self._first("get_user", sa.select(*self._user_columns).where(users.c.id == key))
        return None if row is None else user_record(row)

    def get_user_by_email(self, email: str) -> AdapterUser | None:
        """The user with this email, as stored: no case folding, except a MySQL collation's (the
        user Auth.js's adapters find there too), and nothing else of a collation's: not its
        accents (``joe@exämple.com`` is not ``joe@example.com``: an email link for a look-alike
        address must not sign in someone else) nor its trailing spaces."""
        if not usable(email):
            return None
        users = self.tables.users
        row = self._first("get_user_by_email", sa.select(*self._user_columns).where(users.c.email == email))
        if row is None:
            return None
        user = user_record(row)
        stored = user["email"]
        return user if isinstance(stored, str) and stored.casefold() == email.casefold() else None

    def get_user_by_account(self, provider_account: t.Mapping[str, t.Any]) -> AdapterUser | None:
        """The user linked to exactly ``{"provider", "providerAccountId"}`` (not a MySQL
        collation's match, which ignores case and accents)."""
        provider, account_id = provider_account.get("provider"), provider_account.get("providerAccountId")
        if not usable(provider) or not usable(account_id):
            return None
        users, accounts = self.tables.users, self.tables.accounts
        query = (
            sa.select(*self._user_columns, accounts.c.provider, accounts.c.providerAccountId)
            .join(accounts, accounts.c.userId == users.c.id)
            .where(accounts.c.provider == provider, accounts.c.providerAccountId == account_id)
        )
        row = self._first("get_user_by_account", query)
        if row is None:
            return None
        linked = row._mapping
        if linked[accounts.c.provider] != provider or linked[accounts.c.providerAccountId] != account_id:
            return None
        return user_record(row)

    def update_user(self, user: t.Mapping[str, t.Any]) -> AdapterUser:
        """Change the fields given among ``name``, ``email``, ``emailVerified``, ``image``.

        :raises LookupError: no user has ``user["id"]``.
        :raises sqlalchemy.exc.IntegrityError: another user has the new email.
        """
        key = self._id(user.get("id"))
        changes = {name: user[name] for name in USER_FIELDS if name in user}
        if changes.get("emailVerified") is not None:
            need_datetime(changes["emailVerified"], "emailVerified")
        users = self._shaped().users
        with self._transaction("update_user") as conn:
            if key is not None and changes:
                changes = self._stamped(users, changes)
                conn.execute(sa.update(users).where(users.c.id == key).values(**changes))
            row = (
                None
                if key is None
                else conn.execute(sa.select(*self._user_columns).where(users.c.id == key)).first()
            )
        if row is None:
            raise LookupError(f"update_user: no user with id {user.get('id')!r}")
        return user_record(row)

    def delete_user(self, user_id: str) -> AdapterUser | None:
        """Delete a user, its sessions, accounts, passkeys and second factor (in one transaction,
        whether or not the database enforces the foreign keys)."""
        key = self._id(user_id)
        if key is None:
            return None
        users, accounts, sessions = self.tables.users, self.tables.accounts, self.tables.sessions
        authenticators, two_factor = self.tables.authenticators, self.two_factor_table
        with self._transaction("delete_user") as conn:
            row = conn.execute(sa.select(*self._user_columns).where(users.c.id == key)).first()
            conn.execute(sa.delete(sessions).where(sessions.c.userId == key))
            conn.execute(sa.delete(accounts).where(accounts.c.userId == key))
            # Tables a database made by Prisma or drizzle-kit may lack (next-auth v4's Prisma
            # schema has no Authenticator; authguard_two_factor is ours).
            if self._has_table(conn, authenticators):
                conn.execute(sa.delete(authenticators).where(authenticators.c.userId == key))
            if self._has_table(conn, two_factor):
                conn.execute(sa.delete(two_factor).where(two_factor.c.user_id == str(key)))
            conn.execute(sa.delete(users).where(users.c.id == key))
        return None if row is None else user_record(row)

    # -- accounts ----------------------------------------------------------------------------

    def link_account(self, account: t.Mapping[str, t.Any]) -> AdapterAccount:
        """Link a provider account to ``account["userId"]``.

        :raises sqlalchemy.exc.IntegrityError: the account is linked already, or no such user.
        """
        values: dict[str, t.Any] = {
            "userId": need_id(account.get("userId"), "userId", self._text_ids),
            "type": account["type"],
            "provider": account["provider"],
            "providerAccountId": str(account["providerAccountId"]),
        }
        for name in ACCOUNT_TOKEN_FIELDS:
            values[name] = account.get(name)
        if values["expires_at"] is not None:
            values["expires_at"] = int(values["expires_at"])
        accounts = self._shaped().accounts
        with self._transaction("link_account") as conn:
            conn.execute(sa.insert(accounts).values(**self._new_row(accounts, values)))
        return {**values, "userId": str(values["userId"])}  # type: ignore[typeddict-item]

    def unlink_account(self, provider_account: t.Mapping[str, t.Any]) -> AdapterAccount | None:
        """Remove ``{"provider", "providerAccountId"}``; the removed account."""
        provider, account_id = provider_account.get("provider"), provider_account.get("providerAccountId")
        if not usable(provider) or not usable(account_id):
            return None
        accounts = self.tables.accounts
        where = sa.and_(accounts.c.provider == provider, accounts.c.providerAccountId == account_id)
        with self._transaction("unlink_account") as conn:
            row = conn.execute(sa.select(*self._account_columns()).where(where)).first()
            deleted = conn.execute(sa.delete(accounts).where(where)).rowcount
        return account_record(row) if row is not None and deleted else None

    # -- verification tokens -----------------------------------------------------------------

    def create_verification_token(self, token: t.Mapping[str, t.Any]) -> VerificationToken:
        """Store a verification token.

        :raises sqlalchemy.exc.IntegrityError: the same ``identifier`` and ``token`` exist.
        """
        record: VerificationToken = {
            "identifier": str(token["identifier"]),
            "token": str(token["token"]),
            "expires": need_datetime(token.get("expires"), "expires"),
        }
        with self._transaction("create_verification_token") as conn:
            conn.execute(sa.insert(self.tables.verification_token).values(**record))
        return record

    def use_verification_token(self, key: t.Mapping[str, t.Any]) -> VerificationToken | None:
        """Delete the token and return it; of concurrent callers only one gets it."""
        identifier, token = key.get("identifier"), key.get("token")
        if not usable(identifier) or not usable(token):
            return None
        table = self.tables.verification_token
        where = sa.and_(table.c.identifier == identifier, table.c.token == token)
        with self._transaction("use_verification_token") as conn:
            columns = (table.c.identifier, table.c.token, table.c.expires)
            row = conn.execute(sa.select(*columns).where(where)).first()
            if row is None or row.identifier != identifier or row.token != token:
                return None  # exactly this token for exactly this address (not a collation's match)
            deleted = conn.execute(sa.delete(table).where(where)).rowcount
        return verification_record(row) if deleted else None


__all__ = [
    "DEFAULT_TABLE_NAMES",
    "MAX_SESSION_TOKEN_LENGTH",
    "SQLAlchemyAdapter",
    "Tables",
    "UTCDateTime",
    "UTCTimestamp",
    "create_engine",
    "define_tables",
]
