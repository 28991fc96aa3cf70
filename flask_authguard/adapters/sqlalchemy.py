"""A database adapter on SQLAlchemy 2 (Core): SQLite embedded, PostgreSQL to scale out.

.. code-block:: python

    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    adapter = SQLAlchemyAdapter("sqlite:///auth.db", create_tables=True)        # a file
    adapter = SQLAlchemyAdapter("sqlite://", create_tables=True)                # in memory
    adapter = SQLAlchemyAdapter("postgresql://app@db/app")                      # psycopg 3

The default schema is the one of Auth.js's ``@auth/pg-adapter`` (``schema.sql``): tables
``users``, ``accounts``, ``sessions`` and ``verification_token`` with next-auth's quoted
camelCase column names (``"userId"``, ``"sessionToken"``, ``"emailVerified"``...), serial ids,
``ON DELETE CASCADE`` from accounts and sessions to users. A Next.js app with next-auth and
``@auth/pg-adapter`` and a Flask app with this adapter can therefore share one PostgreSQL
database, and sessions made by either are read by both.

Every method runs one short transaction. Errors of the database (down, timeout, lost
connection, missing tables) are raised as
:class:`~flask_authguard.errors.BackendUnavailableError`; a constraint violation (a second user
with the same email, an account linked twice) as SQLAlchemy's ``IntegrityError``, a value the
column cannot hold as its ``DataError``. Lookups with text no row can hold (empty, NUL, longer
than the column) find nothing instead of failing.

Needs the extra: ``pip install "flask-authguard[sqlalchemy]"``.

.. versionadded:: 0.1
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import typing as t

try:
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.engine import URL, Connection, Engine, make_url
    from sqlalchemy.pool import StaticPool
    from sqlalchemy.types import TypeDecorator
except ImportError as _error:  # pragma: no cover - the extra is not installed
    raise ImportError(
        'SQLAlchemyAdapter needs SQLAlchemy 2: pip install "flask-authguard[sqlalchemy]"'
    ) from _error

from ..core.errors import BackendUnavailableError, ConfigurationError
from . import (
    ACCOUNT_TOKEN_FIELDS,
    AdapterAccount,
    AdapterSession,
    AdapterUser,
    SessionAndUser,
    VerificationToken,
)

#: The default table names (``@auth/pg-adapter``'s); ``table_names`` overrides any of them.
DEFAULT_TABLE_NAMES: dict[str, str] = {
    "users": "users",
    "accounts": "accounts",
    "sessions": "sessions",
    "verification_token": "verification_token",
}
#: ``"sessionToken"`` is ``VARCHAR(255)``: a longer cookie cannot name a session.
MAX_SESSION_TOKEN_LENGTH = 255
#: Ids are ``SERIAL`` (PostgreSQL ``integer``).
_MAX_ID = 2**31 - 1
_UTC = dt.timezone.utc
_USER_FIELDS = ("name", "email", "emailVerified", "image")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """``TIMESTAMPTZ`` that always hands back aware UTC datetimes.

    Databases without time zones (SQLite) store naive UTC; a naive value given to us is UTC.
    """

    impl = sa.DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: t.Any, dialect: t.Any) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, not {type(value).__name__}")
        moment: dt.datetime = value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)
        if dialect.name in ("sqlite", "mysql", "mariadb"):
            return moment.replace(tzinfo=None)
        return moment

    def process_result_value(self, value: t.Any, dialect: t.Any) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # a row written by something else than SQLAlchemy (SQLite)
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        moment: dt.datetime = value
        return moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment.astimezone(_UTC)


class Tables(t.NamedTuple):
    """The four tables of the default schema."""

    users: sa.Table
    accounts: sa.Table
    sessions: sa.Table
    verification_token: sa.Table


def define_tables(metadata: sa.MetaData, names: t.Mapping[str, str] | None = None) -> Tables:
    """The default schema (``@auth/pg-adapter``'s ``schema.sql``) on ``metadata``.

    :param names: table names by role (``users``, ``accounts``, ``sessions``,
        ``verification_token``); missing roles keep the default name.
    :raises ConfigurationError: an unknown role or an empty name.
    """
    chosen = dict(DEFAULT_TABLE_NAMES)
    for role, name in (names or {}).items():
        if role not in DEFAULT_TABLE_NAMES:
            roles = ", ".join(DEFAULT_TABLE_NAMES)
            raise ConfigurationError(f"unknown table role {role!r} in table_names (expected some of {roles})")
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"table_names[{role!r}] must be a non-empty string, not {name!r}")
        chosen[role] = name
    if len(set(chosen.values())) != len(chosen):
        raise ConfigurationError(f"table_names must give four different names, not {chosen!r}")
    users = sa.Table(
        chosen["users"],
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255)),
        sa.Column("email", sa.String(255), unique=True),
        sa.Column("emailVerified", UTCDateTime()),
        sa.Column("image", sa.Text),
    )
    accounts = sa.Table(
        chosen["accounts"],
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("userId", sa.Integer, sa.ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("provider", sa.String(255), nullable=False),
        sa.Column("providerAccountId", sa.String(255), nullable=False),
        sa.Column("refresh_token", sa.Text),
        sa.Column("access_token", sa.Text),
        sa.Column("expires_at", sa.BigInteger),
        sa.Column("id_token", sa.Text),
        sa.Column("scope", sa.Text),
        sa.Column("session_state", sa.Text),
        sa.Column("token_type", sa.Text),
        sa.UniqueConstraint("provider", "providerAccountId"),
    )
    sessions = sa.Table(
        chosen["sessions"],
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("userId", sa.Integer, sa.ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False),
        sa.Column("expires", UTCDateTime(), nullable=False),
        sa.Column("sessionToken", sa.String(255), unique=True, nullable=False),
    )
    verification_token = sa.Table(
        chosen["verification_token"],
        metadata,
        sa.Column("identifier", sa.Text, primary_key=True, nullable=False),
        sa.Column("expires", UTCDateTime(), nullable=False),
        sa.Column("token", sa.Text, primary_key=True, nullable=False),
    )
    return Tables(users, accounts, sessions, verification_token)


def _is_memory_sqlite(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def _enable_sqlite_foreign_keys(dbapi_connection: t.Any, connection_record: t.Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str | URL) -> Engine:
    """An engine for ``url`` with settings fit for session storage.

    - A string without ``://`` is a SQLite file path (``":memory:"``: in memory).
    - In-memory SQLite uses one shared connection (``StaticPool``) so every thread sees the
      same database; SQLite enforces foreign keys (``ON DELETE CASCADE``).
    - ``postgresql://`` (and ``postgres://``) without a driver means psycopg 3; connections are
      checked before use (a restarted server costs no failed request) and time out after 5 s.
    - Statement parameters (session tokens) never appear in error messages.

    :raises ConfigurationError: the URL is invalid or its driver is not installed.
    """
    if isinstance(url, str) and "://" not in url:
        url = URL.create("sqlite", database=None if url == ":memory:" else url)
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError as exc:
        raise ConfigurationError(f"not a database URL: {exc}") from None
    kwargs: dict[str, t.Any] = {"hide_parameters": True}
    backend = parsed.get_backend_name()
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
        backend = "postgresql"
    if backend == "sqlite":
        if _is_memory_sqlite(parsed):
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
        if backend == "postgresql" and "connect_timeout" not in parsed.query:
            kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (ImportError, sa_exc.NoSuchModuleError) as exc:
        raise ConfigurationError(
            f'no driver for {parsed.drivername!r} ({exc}); for PostgreSQL: pip install "psycopg[binary]"'
        ) from None
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def _as_id(value: t.Any) -> int | None:
    """A serial id from a record's string id (or an int); ``None`` when it cannot be one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        number = int(value)
    else:
        return None
    return number if 0 < number <= _MAX_ID else None


def _usable(value: t.Any, max_length: int | None = None) -> bool:
    """Text a lookup may send: a non-empty ``str`` without NUL (PostgreSQL refuses it) that
    encodes to UTF-8; anything else matches no row."""
    if not isinstance(value, str) or not value or "\x00" in value:
        return False
    if max_length is not None and len(value) > max_length:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _usable_token(value: t.Any) -> bool:
    return _usable(value, MAX_SESSION_TOKEN_LENGTH)


def _need_id(value: t.Any, what: str) -> int:
    number = _as_id(value)
    if number is None:
        raise ValueError(f"{what} must be a user id (a positive integer, or its string), not {value!r}")
    return number


def _need_datetime(value: t.Any, what: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{what} must be a datetime, not {type(value).__name__}")
    return value


def _describe(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0] if text else 'no details'}"


class SQLAlchemyAdapter:
    """next-auth's adapter on SQLAlchemy Core, with ``@auth/pg-adapter``'s schema.

    :param engine_or_url: an :class:`~sqlalchemy.engine.Engine`, a database URL, or a SQLite
        file path (see :func:`create_engine` for what a URL gets). An engine you pass stays
        yours: :meth:`close` does not dispose of it.
    :param table_names: other names for some tables: ``{"users": "auth_users", ...}`` with the
        roles ``users``, ``accounts``, ``sessions``, ``verification_token``.
    :param create_tables: create missing tables (and the ``schema``) now; see
        :meth:`create_tables`.
    :param schema: the database schema holding the tables (PostgreSQL), default the
        connection's ``search_path``.
    :raises ConfigurationError: a bad URL, table name or missing driver.
    :raises BackendUnavailableError: ``create_tables=True`` and the database cannot be reached.
    """

    def __init__(
        self,
        engine_or_url: Engine | str | URL,
        *,
        table_names: t.Mapping[str, str] | None = None,
        create_tables: bool = False,
        schema: str | None = None,
    ) -> None:
        if isinstance(engine_or_url, Engine):
            engine, self._owns_engine = engine_or_url, False
        elif isinstance(engine_or_url, (str, URL)):
            engine, self._owns_engine = create_engine(engine_or_url), True
        else:
            raise ConfigurationError(
                f"SQLAlchemyAdapter needs an Engine, a database URL or a SQLite path, not {engine_or_url!r}"
            )
        #: The engine every operation runs on.
        self.engine: Engine = engine
        #: The schema's metadata (``create_all``/``drop_all``, Alembic's ``target_metadata``).
        self.metadata = sa.MetaData(schema=schema)
        #: The tables: ``users``, ``accounts``, ``sessions``, ``verification_token``.
        self.tables = define_tables(self.metadata, table_names)
        # SQLite has one writer per file, and an in-memory database one shared connection:
        # operations of this process take turns instead of failing with "database is locked".
        self._lock: t.ContextManager[t.Any] = (
            threading.RLock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )
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
        """Drop the four tables, with every user and session in them."""
        with self._transaction("drop_tables") as conn:
            self.metadata.drop_all(conn, checkfirst=True)

    def close(self) -> None:
        """Close the connections of an engine this adapter made from a URL."""
        if self._owns_engine:
            self.engine.dispose()

    @contextlib.contextmanager
    def _transaction(self, operation: str) -> t.Iterator[Connection]:
        with self._lock:
            try:
                with self.engine.begin() as conn:
                    yield conn
            except (sa_exc.IntegrityError, sa_exc.DataError):
                raise  # the data's fault, not the database's
            except sa_exc.SQLAlchemyError as exc:
                raise BackendUnavailableError(
                    f"{operation} failed on {self.engine.dialect.name}: {_describe(exc)}"
                ) from exc

    # -- records -----------------------------------------------------------------------------

    @staticmethod
    def _user(row: t.Any) -> AdapterUser:
        m = row._mapping
        return {
            "id": str(m["id"]),
            "name": m["name"],
            "email": m["email"],
            "emailVerified": m["emailVerified"],
            "image": m["image"],
        }

    @staticmethod
    def _session(row: t.Any) -> AdapterSession:
        m = row._mapping
        return {"sessionToken": m["sessionToken"], "userId": str(m["userId"]), "expires": m["expires"]}

    @staticmethod
    def _account(row: t.Any) -> AdapterAccount:
        m = row._mapping
        account: AdapterAccount = {
            "userId": str(m["userId"]),
            "type": m["type"],
            "provider": m["provider"],
            "providerAccountId": m["providerAccountId"],
        }
        for name in ACCOUNT_TOKEN_FIELDS:
            account[name] = m[name]  # type: ignore[literal-required]
        return account

    @staticmethod
    def _verification(row: t.Any) -> VerificationToken:
        m = row._mapping
        return {"identifier": m["identifier"], "token": m["token"], "expires": m["expires"]}

    # -- users -------------------------------------------------------------------------------

    def create_user(self, user: t.Mapping[str, t.Any]) -> AdapterUser:
        """Insert a user; ``id`` is assigned by the database (any given ``id`` is ignored).

        :raises sqlalchemy.exc.IntegrityError: another user has this email.
        """
        values = {name: user.get(name) for name in _USER_FIELDS}
        if values["emailVerified"] is not None:
            _need_datetime(values["emailVerified"], "emailVerified")
        with self._transaction("create_user") as conn:
            result = conn.execute(sa.insert(self.tables.users).values(**values))
            (new_id,) = result.inserted_primary_key  # type: ignore[misc]
        return {"id": str(new_id), **values}  # type: ignore[typeddict-item]

    def get_user(self, id: str) -> AdapterUser | None:
        """The user with this id; ``None`` also for an id that cannot be one (``"abc"``)."""
        number = _as_id(id)
        if number is None:
            return None
        users = self.tables.users
        with self._transaction("get_user") as conn:
            row = conn.execute(sa.select(users).where(users.c.id == number)).first()
        return None if row is None else self._user(row)

    def get_user_by_email(self, email: str) -> AdapterUser | None:
        """The user with exactly this email (as stored: no case folding)."""
        if not _usable(email):
            return None
        users = self.tables.users
        with self._transaction("get_user_by_email") as conn:
            row = conn.execute(sa.select(users).where(users.c.email == email)).first()
        return None if row is None else self._user(row)

    def get_user_by_account(self, provider_account: t.Mapping[str, t.Any]) -> AdapterUser | None:
        """The user linked to ``{"provider", "providerAccountId"}``."""
        provider, account_id = provider_account.get("provider"), provider_account.get("providerAccountId")
        if not _usable(provider) or not _usable(account_id):
            return None
        users, accounts = self.tables.users, self.tables.accounts
        query = (
            sa.select(users)
            .join(accounts, accounts.c.userId == users.c.id)
            .where(accounts.c.provider == provider, accounts.c.providerAccountId == account_id)
        )
        with self._transaction("get_user_by_account") as conn:
            row = conn.execute(query).first()
        return None if row is None else self._user(row)

    def update_user(self, user: t.Mapping[str, t.Any]) -> AdapterUser:
        """Change the fields given among ``name``, ``email``, ``emailVerified``, ``image``.

        :raises LookupError: no user has ``user["id"]``.
        :raises sqlalchemy.exc.IntegrityError: another user has the new email.
        """
        number = _as_id(user.get("id"))
        changes = {name: user[name] for name in _USER_FIELDS if name in user}
        if changes.get("emailVerified") is not None:
            _need_datetime(changes["emailVerified"], "emailVerified")
        users = self.tables.users
        with self._transaction("update_user") as conn:
            if number is not None and changes:
                conn.execute(sa.update(users).where(users.c.id == number).values(**changes))
            row = (
                None if number is None else conn.execute(sa.select(users).where(users.c.id == number)).first()
            )
        if row is None:
            raise LookupError(f"update_user: no user with id {user.get('id')!r}")
        return self._user(row)

    def delete_user(self, user_id: str) -> AdapterUser | None:
        """Delete a user, its sessions and its accounts (in one transaction, whether or not
        the database enforces the foreign keys)."""
        number = _as_id(user_id)
        if number is None:
            return None
        users, accounts, sessions = self.tables.users, self.tables.accounts, self.tables.sessions
        with self._transaction("delete_user") as conn:
            row = conn.execute(sa.select(users).where(users.c.id == number)).first()
            conn.execute(sa.delete(sessions).where(sessions.c.userId == number))
            conn.execute(sa.delete(accounts).where(accounts.c.userId == number))
            conn.execute(sa.delete(users).where(users.c.id == number))
        return None if row is None else self._user(row)

    # -- accounts ----------------------------------------------------------------------------

    def link_account(self, account: t.Mapping[str, t.Any]) -> AdapterAccount:
        """Link a provider account to ``account["userId"]``.

        :raises sqlalchemy.exc.IntegrityError: the account is linked already, or no such user.
        """
        values: dict[str, t.Any] = {
            "userId": _need_id(account.get("userId"), "userId"),
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
        if not _usable(provider) or not _usable(account_id):
            return None
        accounts = self.tables.accounts
        where = sa.and_(accounts.c.provider == provider, accounts.c.providerAccountId == account_id)
        with self._transaction("unlink_account") as conn:
            row = conn.execute(sa.select(accounts).where(where)).first()
            deleted = conn.execute(sa.delete(accounts).where(where)).rowcount
        return self._account(row) if row is not None and deleted else None

    # -- sessions ----------------------------------------------------------------------------

    def create_session(self, session: t.Mapping[str, t.Any]) -> AdapterSession:
        """Insert a session.

        :raises sqlalchemy.exc.IntegrityError: the token exists already, or no such user.
        """
        token = session.get("sessionToken")
        if not _usable_token(token):
            raise ValueError(
                f"sessionToken must be text of 1 to {MAX_SESSION_TOKEN_LENGTH} characters without NUL"
            )
        user_id = _need_id(session.get("userId"), "userId")
        expires = _need_datetime(session.get("expires"), "expires")
        values = {"sessionToken": token, "userId": user_id, "expires": expires}
        with self._transaction("create_session") as conn:
            conn.execute(sa.insert(self.tables.sessions).values(**values))
        return {"sessionToken": t.cast(str, token), "userId": str(user_id), "expires": expires}

    def get_session_and_user(self, session_token: str) -> SessionAndUser | None:
        """The session and its user, in one query (one consistent read)."""
        if not _usable_token(session_token):
            return None
        users, sessions = self.tables.users, self.tables.sessions
        query = (
            sa.select(
                sessions.c.sessionToken,
                sessions.c.userId,
                sessions.c.expires,
                users.c.id,
                users.c.name,
                users.c.email,
                users.c.emailVerified,
                users.c.image,
            )
            .select_from(sessions.join(users, users.c.id == sessions.c.userId))
            .where(sessions.c.sessionToken == session_token)
        )
        with self._transaction("get_session_and_user") as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return {"session": self._session(row), "user": self._user(row)}

    def update_session(self, session: t.Mapping[str, t.Any]) -> AdapterSession | None:
        """Set ``expires`` (and ``userId``, when given) of the session ``sessionToken``.

        One ``UPDATE`` by token: concurrent updates of a session each leave a whole, valid row,
        and an update never brings back a session deleted meanwhile (it returns ``None``).
        """
        token = session.get("sessionToken")
        if not _usable_token(token):
            return None
        changes: dict[str, t.Any] = {}
        if "expires" in session:
            changes["expires"] = _need_datetime(session["expires"], "expires")
        if "userId" in session:
            changes["userId"] = _need_id(session["userId"], "userId")
        sessions = self.tables.sessions
        where = sessions.c.sessionToken == token
        with self._transaction("update_session") as conn:
            if changes:
                if not conn.execute(sa.update(sessions).where(where).values(**changes)).rowcount:
                    return None
            row = conn.execute(sa.select(sessions).where(where)).first()
        return None if row is None else self._session(row)

    def delete_session(self, session_token: str) -> AdapterSession | None:
        """Delete the session with this token; the deleted session (to one caller only)."""
        if not _usable_token(session_token):
            return None
        sessions = self.tables.sessions
        where = sessions.c.sessionToken == session_token
        with self._transaction("delete_session") as conn:
            row = conn.execute(sa.select(sessions).where(where)).first()
            if row is None:
                return None
            deleted = conn.execute(sa.delete(sessions).where(where)).rowcount
        return self._session(row) if deleted else None

    def delete_user_sessions(self, user_id: str) -> int:
        """Delete every session of a user (sign out everywhere, revoke a user); how many.

        .. versionadded:: 0.2
        """
        uid = _as_id(user_id)
        if uid is None:
            return 0
        sessions = self.tables.sessions
        with self._transaction("delete_user_sessions") as conn:
            return int(conn.execute(sa.delete(sessions).where(sessions.c.userId == uid)).rowcount)

    # -- verification tokens -----------------------------------------------------------------

    def create_verification_token(self, token: t.Mapping[str, t.Any]) -> VerificationToken:
        """Store a verification token.

        :raises sqlalchemy.exc.IntegrityError: the same ``identifier`` and ``token`` exist.
        """
        record: VerificationToken = {
            "identifier": str(token["identifier"]),
            "token": str(token["token"]),
            "expires": _need_datetime(token.get("expires"), "expires"),
        }
        with self._transaction("create_verification_token") as conn:
            conn.execute(sa.insert(self.tables.verification_token).values(**record))
        return record

    def use_verification_token(self, key: t.Mapping[str, t.Any]) -> VerificationToken | None:
        """Delete the token and return it; of concurrent callers only one gets it."""
        identifier, token = key.get("identifier"), key.get("token")
        if not _usable(identifier) or not _usable(token):
            return None
        table = self.tables.verification_token
        where = sa.and_(table.c.identifier == identifier, table.c.token == token)
        with self._transaction("use_verification_token") as conn:
            row = conn.execute(sa.select(table).where(where)).first()
            if row is None:
                return None
            deleted = conn.execute(sa.delete(table).where(where)).rowcount
        return self._verification(row) if deleted else None


__all__ = [
    "DEFAULT_TABLE_NAMES",
    "SQLAlchemyAdapter",
    "Tables",
    "UTCDateTime",
    "create_engine",
    "define_tables",
]
