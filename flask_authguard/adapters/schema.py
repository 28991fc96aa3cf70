"""The default schema: the tables of Auth.js's ``@auth/pg-adapter`` (``schema.sql``) in SQLAlchemy Core,
and the column types every layout shares.

Tables ``users``, ``accounts``, ``sessions`` and ``verification_token`` (and ``authenticators``
for passkeys, :mod:`~flask_authguard.adapters.authenticators`) with next-auth's quoted
camelCase column names (``"userId"``, ``"sessionToken"``, ``"emailVerified"``...), serial ids,
``ON DELETE CASCADE`` from accounts and sessions to users, so that a Next.js app on
``@auth/pg-adapter`` and a Flask app share one database. The Prisma and Drizzle layouts are in
:mod:`~flask_authguard.adapters.layouts`.

.. versionadded:: 0.1
"""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.types import TypeDecorator

from ..core.errors import ConfigurationError

#: The default table names (``@auth/pg-adapter``'s); ``table_names`` overrides any of them.
DEFAULT_TABLE_NAMES: dict[str, str] = {
    "users": "users",
    "accounts": "accounts",
    "sessions": "sessions",
    "verification_token": "verification_token",
    "authenticators": "authenticators",
}
#: ``"sessionToken"`` is ``VARCHAR(255)``: a longer cookie cannot name a session.
MAX_SESSION_TOKEN_LENGTH = 255
#: The longest passkey credential id stored, in base64 characters (191 bytes; authenticators make
#: 16 to 64), as ``accounts."providerAccountId"`` holds it. WebAuthn allows 1023 bytes.
MAX_CREDENTIAL_ID_LENGTH = 255
_UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1)
_MYSQL = ("mysql", "mariadb")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """``TIMESTAMPTZ`` that always hands back aware UTC datetimes.

    Databases without time zones (SQLite) store naive UTC; a naive value given to us is UTC.
    """

    impl = sa.DateTime
    #: SQLAlchemy may cache statements using this type: it holds no per-instance state.
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def load_dialect_impl(self, dialect: t.Any) -> t.Any:
        if dialect.name in _MYSQL:  # DATETIME, microseconds kept
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: t.Any, dialect: t.Any) -> dt.datetime | None:
        """The value to store: aware UTC, or naive UTC where the database has no time zones.

        :raises TypeError: ``value`` is not a datetime.
        """
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, not {type(value).__name__}")
        moment: dt.datetime = value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)
        if dialect.name == "sqlite" or dialect.name in _MYSQL:
            return moment.replace(tzinfo=None)
        return moment

    def process_result_value(self, value: t.Any, dialect: t.Any) -> dt.datetime | None:
        """The value read back as an aware UTC datetime (ISO text written by others too)."""
        if value is None:
            return None
        if isinstance(value, str):  # a row written by something else than SQLAlchemy (SQLite)
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        moment: dt.datetime = value
        return moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment.astimezone(_UTC)


def utc(value: t.Any) -> dt.datetime:
    """``value`` (a datetime; naive means UTC) as an aware UTC datetime.

    :raises TypeError: it is not a datetime.
    """
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a datetime, not {type(value).__name__}")
    return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)


class UTCTimestamp(TypeDecorator[dt.datetime]):
    """A timestamp *without* time zone holding UTC, as the JavaScript adapters write it (Prisma's
    ``DateTime``, Drizzle's ``timestamp(..., { mode: "date" })``): the value is sent naive, so no
    zone of the process, the server or the connection moves it, and read back as aware UTC.

    Values are cut to milliseconds (a JavaScript ``Date``) before they are stored.

    :param precision: fractional digits of the column (``None``: the database's default).
    :param mysql_timestamp: MySQL ``TIMESTAMP`` (Drizzle) instead of ``DATETIME`` (Prisma); the
        adapter pins its MySQL connections to ``time_zone = '+00:00'`` for it.
    :param sqlite_epoch_ms: on SQLite, an integer of milliseconds since the epoch (Drizzle's
        ``integer(..., { mode: "timestamp_ms" })``) instead of ISO text.

    .. versionadded:: 0.1
    """

    impl = sa.DateTime
    #: SQLAlchemy may cache statements using this type: its state is its constructor's arguments.
    cache_ok = True

    def __init__(
        self, precision: int | None = 3, *, mysql_timestamp: bool = False, sqlite_epoch_ms: bool = False
    ) -> None:
        super().__init__()
        self.precision = precision
        self.mysql_timestamp = mysql_timestamp
        self.sqlite_epoch_ms = sqlite_epoch_ms

    def load_dialect_impl(self, dialect: t.Any) -> t.Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(precision=self.precision))
        if dialect.name in _MYSQL:
            kind = mysql.TIMESTAMP if self.mysql_timestamp else mysql.DATETIME
            return dialect.type_descriptor(kind(fsp=self.precision))
        if dialect.name == "sqlite" and self.sqlite_epoch_ms:  # INTEGER: 64 bits in SQLite
            return dialect.type_descriptor(sa.Integer())
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: t.Any, dialect: t.Any) -> t.Any:
        """The value to store: naive UTC cut to milliseconds (SQLite epoch columns: an integer).

        :raises TypeError: ``value`` is not a datetime.
        """
        if value is None:
            return None
        moment = utc(value).replace(tzinfo=None)
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        if dialect.name == "sqlite" and self.sqlite_epoch_ms:
            return (moment - _EPOCH) // dt.timedelta(milliseconds=1)
        return moment

    def process_result_value(self, value: t.Any, dialect: t.Any) -> dt.datetime | None:
        """The value read back as an aware UTC datetime (epoch milliseconds and ISO text too)."""
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):  # epoch milliseconds
            return (_EPOCH + dt.timedelta(milliseconds=value)).replace(tzinfo=_UTC)
        if isinstance(value, str):  # a row written by something else than SQLAlchemy (SQLite)
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return utc(value)


class Tables(t.NamedTuple):
    """The tables of a layout, by role."""

    users: sa.Table
    accounts: sa.Table
    sessions: sa.Table
    verification_token: sa.Table
    #: The passkeys' table (pg's ``authenticators``, Prisma's ``Authenticator``, Drizzle's
    #: ``authenticator``).
    authenticators: sa.Table

    def names(self) -> dict[str, str]:
        """The name of each table by role (what ``table_names`` takes)."""
        return {role: table.name for role, table in self._asdict().items()}


def choose_names(defaults: t.Mapping[str, str], names: t.Mapping[str, str] | None) -> dict[str, str]:
    """The table name of each role: ``defaults`` overridden by ``names``.

    :raises ConfigurationError: an unknown role, an empty name, two roles with one name.
    """
    chosen = dict(defaults)
    for role, name in (names or {}).items():
        if role not in defaults:
            roles = ", ".join(defaults)
            raise ConfigurationError(f"unknown table role {role!r} in table_names (expected some of {roles})")
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"table_names[{role!r}] must be a non-empty string, not {name!r}")
        chosen[role] = name
    if len(set(chosen.values())) != len(chosen):
        raise ConfigurationError(f"table_names must give {len(chosen)} different names, not {chosen!r}")
    return chosen


def define_tables(metadata: sa.MetaData, names: t.Mapping[str, str] | None = None) -> Tables:
    """The default schema (``@auth/pg-adapter``'s ``schema.sql``) on ``metadata``.

    :param names: table names by role (``users``, ``accounts``, ``sessions``,
        ``verification_token``, ``authenticators``); missing roles keep the default name.
    :raises ConfigurationError: an unknown role or an empty name.
    """
    chosen = choose_names(DEFAULT_TABLE_NAMES, names)
    # MySQL indexes no TEXT column without a length: its key columns are VARCHAR(255) there.
    key_text = sa.Text().with_variant(sa.String(255), *_MYSQL)
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
        sa.Column("identifier", key_text, primary_key=True, nullable=False),
        sa.Column("expires", UTCDateTime(), nullable=False),
        sa.Column("token", key_text, primary_key=True, nullable=False),
    )
    authenticators = define_authenticators(metadata, chosen["authenticators"], users)
    return Tables(users, accounts, sessions, verification_token, authenticators)


def define_authenticators(metadata: sa.MetaData, name: str, users: sa.Table) -> sa.Table:
    """Auth.js's ``Authenticator`` table (passkeys) in the pg layout, its users in ``users``
    (:mod:`~flask_authguard.adapters.authenticators`)."""
    return sa.Table(
        name,
        metadata,
        sa.Column("credentialID", sa.String(MAX_CREDENTIAL_ID_LENGTH), nullable=False, unique=True),
        sa.Column(
            "userId", sa.Integer, sa.ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("providerAccountId", sa.String(MAX_CREDENTIAL_ID_LENGTH), nullable=False),
        sa.Column("credentialPublicKey", sa.Text, nullable=False),
        sa.Column("counter", sa.BigInteger, nullable=False),
        sa.Column("credentialDeviceType", sa.String(32), nullable=False),
        sa.Column("credentialBackedUp", sa.Boolean, nullable=False),
        sa.Column("transports", sa.String(255)),
        sa.PrimaryKeyConstraint("userId", "credentialID"),
    )


def session_and_user_query(tables: Tables) -> sa.Select[t.Any]:
    """The session lookup: ``sessions`` joined to ``users`` by primary key, where the token is
    the ``token`` parameter; one statement, to build once. Its columns, in this order, are what
    :func:`~flask_authguard.adapters.records.session_and_user_record` unpacks."""
    users, sessions = tables.users, tables.sessions
    return (
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
        .where(sessions.c.sessionToken == sa.bindparam("token", type_=sessions.c.sessionToken.type))
    )


__all__ = [
    "DEFAULT_TABLE_NAMES",
    "MAX_CREDENTIAL_ID_LENGTH",
    "MAX_SESSION_TOKEN_LENGTH",
    "Tables",
    "UTCDateTime",
    "UTCTimestamp",
    "choose_names",
    "define_authenticators",
    "define_tables",
    "session_and_user_query",
    "utc",
]
