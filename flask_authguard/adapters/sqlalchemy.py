"""A database adapter on SQLAlchemy 2 (Core): SQLite embedded, PostgreSQL to scale out.

.. code-block:: python

    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    adapter = SQLAlchemyAdapter("sqlite:///auth.db", create_tables=True)        # a file
    adapter = SQLAlchemyAdapter("sqlite://", create_tables=True)                # in memory
    adapter = SQLAlchemyAdapter("postgresql://app@db/app")                      # psycopg 3

The tables are those of Auth.js's ``@auth/pg-adapter`` (:mod:`~flask_authguard.adapters.schema`):
a Next.js app on that adapter and a Flask app on this one share a database and read each
other's sessions.

Every method that writes runs one short transaction; a single read (a user, a session with its
user) runs as one statement outside any transaction. Errors of the database (down, timeout, lost
connection, missing tables) are raised as
:class:`~flask_authguard.core.errors.BackendUnavailableError`; a constraint violation (a second user
with the same email, an account linked twice) as SQLAlchemy's ``IntegrityError``, a value the
column cannot hold as its ``DataError``. Lookups with text no row can hold (empty, NUL, longer
than the column) find nothing instead of failing.

A database that stops answering costs a prompt error, not a hung request: see the timeouts of
:mod:`flask_authguard.adapters.engine`.

This module holds the queries; :mod:`~flask_authguard.adapters.engine` makes the engine and
:mod:`~flask_authguard.adapters.records` turns rows into records.

Needs the extra: ``pip install "flask-authguard[sqlalchemy]"``.

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
    AdapterSession,
    AdapterUser,
    SessionAndUser,
    VerificationToken,
)
from .account_tokens import AccountTokens
from .authenticators import Authenticators
from .engine import DEFAULT, Timeout, Turns, create_engine, engine_for
from .reads import CompiledRead
from .records import (
    USER_FIELDS,
    account_record,
    as_id,
    need_datetime,
    need_id,
    session_and_user_record,
    session_record,
    usable,
    usable_token,
    user_record,
    verification_record,
)
from .schema import (
    DEFAULT_TABLE_NAMES,
    MAX_SESSION_TOKEN_LENGTH,
    Tables,
    UTCDateTime,
    define_tables,
    session_and_user_query,
)
from .two_factor import TwoFactorRows, define_two_factor_table

logger = logging.getLogger("flask_authguard")


class SQLAlchemyAdapter(TwoFactorRows, Authenticators, AccountTokens):
    """next-auth's adapter on SQLAlchemy Core, with ``@auth/pg-adapter``'s schema.

    :param engine_or_url: an :class:`~sqlalchemy.engine.Engine`, a database URL, or a SQLite
        file path (see :func:`create_engine` for what a URL gets). An engine you pass stays
        yours: :meth:`close` does not dispose of it.
    :param table_names: other names for some tables: ``{"users": "auth_users", ...}`` with the
        roles ``users``, ``accounts``, ``sessions``, ``verification_token``, ``authenticators``.
    :param create_tables: create missing tables (and the ``schema``) now; see
        :meth:`create_tables`.
    :param schema: the database schema holding the tables (PostgreSQL), default the
        connection's ``search_path``.
    :param connect_timeout: seconds to open a connection (default 3); ``None``: the driver's
        own (psycopg: 130).
    :param statement_timeout: seconds one statement may run, or wait for a SQLite lock
        (default 5); ``None``: no bound of ours.
    :param pool_timeout: seconds to wait for a free pooled connection (default 3).
    :raises ConfigurationError: a bad URL, table name, timeout or missing driver; a timeout
        given with an engine (set it on your engine).
    :raises BackendUnavailableError: ``create_tables=True`` and the database cannot be reached.
    """

    def __init__(
        self,
        engine_or_url: Engine | str | URL,
        *,
        table_names: t.Mapping[str, str] | None = None,
        create_tables: bool = False,
        schema: str | None = None,
        connect_timeout: Timeout = DEFAULT,
        statement_timeout: Timeout = DEFAULT,
        pool_timeout: Timeout = DEFAULT,
    ) -> None:
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
        # isolation switch would cost a PRAGMA on every checkin.
        sqlite = engine.dialect.name == "sqlite"
        self._reader: Engine = engine if sqlite else engine.execution_options(isolation_level="AUTOCOMMIT")
        #: The schema's metadata (``create_all``/``drop_all``, Alembic's ``target_metadata``).
        self.metadata = sa.MetaData(schema=schema)
        #: The tables: ``users``, ``accounts``, ``sessions``, ``verification_token``, ``authenticators``.
        self.tables = define_tables(self.metadata, table_names)
        #: Our table beside them: each user's second factor (``two_factor``), any layout.
        self.two_factor_table = define_two_factor_table(self.metadata)
        self.authenticators = self.tables.authenticators
        # Built once, compiled at its first run, run on the driver's cursor (see .reads).
        self._session_lookup = CompiledRead(engine, session_and_user_query(self.tables))
        self._turns = Turns(engine)  # SQLite: this process's operations one at a time
        if create_tables:
            self.create_tables()

    def __repr__(self) -> str:
        return f"<SQLAlchemyAdapter {self.engine.url.render_as_string(hide_password=True)}>"

    # -- schema ------------------------------------------------------------------------------

    def create_tables(self) -> None:
        """Create the tables that do not exist yet (and the ``schema``, on PostgreSQL).

        Safe to call on every start; existing tables are left as they are (no migrations).
        """
        with self._transaction("create_tables") as conn:
            if self.metadata.schema and conn.dialect.name == "postgresql":
                conn.execute(sa.schema.CreateSchema(self.metadata.schema, if_not_exists=True))
            self.metadata.create_all(conn, checkfirst=True)

    def drop_tables(self) -> None:
        """Drop the tables, with every user and session in them."""
        with self._transaction("drop_tables") as conn:
            self.metadata.drop_all(conn, checkfirst=True)

    def close(self) -> None:
        """Close the connections of an engine this adapter made from a URL."""
        if self._owns_engine:
            self.engine.dispose()

    # -- users -------------------------------------------------------------------------------

    def create_user(self, user: t.Mapping[str, t.Any]) -> AdapterUser:
        """Insert a user; ``id`` is assigned by the database (any given ``id`` is ignored).

        :raises sqlalchemy.exc.IntegrityError: another user has this email.
        """
        values = {name: user.get(name) for name in USER_FIELDS}
        if values["emailVerified"] is not None:
            need_datetime(values["emailVerified"], "emailVerified")
        with self._transaction("create_user") as conn:
            result = conn.execute(sa.insert(self.tables.users).values(**values))
            (new_id,) = result.inserted_primary_key  # type: ignore[misc]
        return {"id": str(new_id), **values}  # type: ignore[typeddict-item]

    def get_user(self, id: str) -> AdapterUser | None:
        """The user with this id; ``None`` also for an id that cannot be one (``"abc"``)."""
        number = as_id(id)
        if number is None:
            return None
        users = self.tables.users
        row = self._first("get_user", sa.select(users).where(users.c.id == number))
        return None if row is None else user_record(row)

    def get_user_by_email(self, email: str) -> AdapterUser | None:
        """The user with exactly this email (as stored: no case folding)."""
        if not usable(email):
            return None
        users = self.tables.users
        row = self._first("get_user_by_email", sa.select(users).where(users.c.email == email))
        return None if row is None else user_record(row)

    def get_user_by_account(self, provider_account: t.Mapping[str, t.Any]) -> AdapterUser | None:
        """The user linked to ``{"provider", "providerAccountId"}``."""
        provider, account_id = provider_account.get("provider"), provider_account.get("providerAccountId")
        if not usable(provider) or not usable(account_id):
            return None
        users, accounts = self.tables.users, self.tables.accounts
        query = (
            sa.select(users)
            .join(accounts, accounts.c.userId == users.c.id)
            .where(accounts.c.provider == provider, accounts.c.providerAccountId == account_id)
        )
        row = self._first("get_user_by_account", query)
        return None if row is None else user_record(row)

    def update_user(self, user: t.Mapping[str, t.Any]) -> AdapterUser:
        """Change the fields given among ``name``, ``email``, ``emailVerified``, ``image``.

        :raises LookupError: no user has ``user["id"]``.
        :raises sqlalchemy.exc.IntegrityError: another user has the new email.
        """
        number = as_id(user.get("id"))
        changes = {name: user[name] for name in USER_FIELDS if name in user}
        if changes.get("emailVerified") is not None:
            need_datetime(changes["emailVerified"], "emailVerified")
        users = self.tables.users
        with self._transaction("update_user") as conn:
            if number is not None and changes:
                conn.execute(sa.update(users).where(users.c.id == number).values(**changes))
            row = (
                None if number is None else conn.execute(sa.select(users).where(users.c.id == number)).first()
            )
        if row is None:
            raise LookupError(f"update_user: no user with id {user.get('id')!r}")
        return user_record(row)

    def delete_user(self, user_id: str) -> AdapterUser | None:
        """Delete a user, its sessions, accounts and passkeys (in one transaction, whether or not
        the database enforces the foreign keys)."""
        number = as_id(user_id)
        if number is None:
            return None
        users, accounts, sessions = self.tables.users, self.tables.accounts, self.tables.sessions
        with self._transaction("delete_user") as conn:
            row = conn.execute(sa.select(users).where(users.c.id == number)).first()
            conn.execute(sa.delete(sessions).where(sessions.c.userId == number))
            conn.execute(sa.delete(accounts).where(accounts.c.userId == number))
            conn.execute(sa.delete(self.authenticators).where(self.authenticators.c.userId == number))
            conn.execute(sa.delete(users).where(users.c.id == number))
        return None if row is None else user_record(row)

    # -- accounts ----------------------------------------------------------------------------

    def link_account(self, account: t.Mapping[str, t.Any]) -> AdapterAccount:
        """Link a provider account to ``account["userId"]``.

        :raises sqlalchemy.exc.IntegrityError: the account is linked already, or no such user.
        """
        values: dict[str, t.Any] = {
            "userId": need_id(account.get("userId"), "userId"),
            "type": account["type"],
            "provider": account["provider"],
            "providerAccountId": str(account["providerAccountId"]),
        }
        for name in ACCOUNT_TOKEN_FIELDS:
            values[name] = account.get(name)
        if values["expires_at"] is not None:
            values["expires_at"] = int(values["expires_at"])
        with self._transaction("link_account") as conn:
            conn.execute(sa.insert(self.tables.accounts).values(**values))
        return {**values, "userId": str(values["userId"])}  # type: ignore[typeddict-item]

    def unlink_account(self, provider_account: t.Mapping[str, t.Any]) -> AdapterAccount | None:
        """Remove ``{"provider", "providerAccountId"}``; the removed account."""
        provider, account_id = provider_account.get("provider"), provider_account.get("providerAccountId")
        if not usable(provider) or not usable(account_id):
            return None
        accounts = self.tables.accounts
        where = sa.and_(accounts.c.provider == provider, accounts.c.providerAccountId == account_id)
        with self._transaction("unlink_account") as conn:
            row = conn.execute(sa.select(accounts).where(where)).first()
            deleted = conn.execute(sa.delete(accounts).where(where)).rowcount
        return account_record(row) if row is not None and deleted else None

    # -- sessions ----------------------------------------------------------------------------

    def create_session(self, session: t.Mapping[str, t.Any]) -> AdapterSession:
        """Insert a session.

        :raises sqlalchemy.exc.IntegrityError: the token exists already, or no such user.
        """
        token = session.get("sessionToken")
        if not usable_token(token):
            raise ValueError(
                f"sessionToken must be text of 1 to {MAX_SESSION_TOKEN_LENGTH} characters without NUL"
            )
        user_id = need_id(session.get("userId"), "userId")
        expires = need_datetime(session.get("expires"), "expires")
        values = {"sessionToken": token, "userId": user_id, "expires": expires}
        with self._transaction("create_session") as conn:
            conn.execute(sa.insert(self.tables.sessions).values(**values))
        return {"sessionToken": t.cast(str, token), "userId": str(user_id), "expires": expires}

    def get_session_and_user(self, session_token: str) -> SessionAndUser | None:
        """The session and its user, in one statement (one consistent read)."""
        if not usable_token(session_token):
            return None
        row = self._first_compiled("get_session_and_user", self._session_lookup, {"token": session_token})
        return None if row is None else session_and_user_record(row)

    def update_session(self, session: t.Mapping[str, t.Any]) -> AdapterSession | None:
        """Set ``expires`` (and ``userId``, when given) of the session ``sessionToken``.

        One ``UPDATE`` by token: concurrent updates of a session each leave a whole, valid row,
        and an update never brings back a session deleted meanwhile (it returns ``None``).
        """
        token = session.get("sessionToken")
        if not usable_token(token):
            return None
        changes: dict[str, t.Any] = {}
        if "expires" in session:
            changes["expires"] = need_datetime(session["expires"], "expires")
        if "userId" in session:
            changes["userId"] = need_id(session["userId"], "userId")
        sessions = self.tables.sessions
        where = sessions.c.sessionToken == token
        with self._transaction("update_session") as conn:
            if changes:
                if not conn.execute(sa.update(sessions).where(where).values(**changes)).rowcount:
                    return None
            row = conn.execute(sa.select(sessions).where(where)).first()
        return None if row is None else session_record(row)

    def delete_session(self, session_token: str) -> AdapterSession | None:
        """Delete the session with this token; the deleted session (to one caller only)."""
        if not usable_token(session_token):
            return None
        sessions = self.tables.sessions
        where = sessions.c.sessionToken == session_token
        with self._transaction("delete_session") as conn:
            row = conn.execute(sa.select(sessions).where(where)).first()
            if row is None:
                return None
            deleted = conn.execute(sa.delete(sessions).where(where)).rowcount
        return session_record(row) if deleted else None

    def delete_user_sessions(self, user_id: str) -> int:
        """Delete every session of a user (sign out everywhere, revoke a user); how many.

        .. versionadded:: 0.1
        """
        uid = as_id(user_id)
        if uid is None:
            return 0
        sessions = self.tables.sessions
        with self._transaction("delete_user_sessions") as conn:
            return int(conn.execute(sa.delete(sessions).where(sessions.c.userId == uid)).rowcount)

    def list_user_sessions(self, user_id: str) -> list[AdapterSession]:
        """Every session of a user, expired ones included ("your devices").

        .. versionadded:: 0.1
        """
        uid = as_id(user_id)
        if uid is None:
            return []
        sessions = self.tables.sessions
        query = sa.select(sessions).where(sessions.c.userId == uid).order_by(sessions.c.expires.desc())

        def run() -> list[t.Any]:
            with self._reader.connect() as conn:
                return list(conn.execute(query))

        return [session_record(row) for row in self._read("list_user_sessions", run)]

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
            row = conn.execute(sa.select(table).where(where)).first()
            if row is None:
                return None
            deleted = conn.execute(sa.delete(table).where(where)).rowcount
        return verification_record(row) if deleted else None


__all__ = [
    "DEFAULT_TABLE_NAMES",
    "MAX_SESSION_TOKEN_LENGTH",
    "SQLAlchemyAdapter",
    "Tables",
    "UTCDateTime",
    "create_engine",
    "define_tables",
]
