"""Table layouts: whose tables the adapter reads and writes, so Python and a Next.js app share rows.

``pg``
    Auth.js's ``@auth/pg-adapter`` (``schema.sql``): ``users``, ``accounts``, ``sessions``,
    ``verification_token``; serial integer ids; ``TIMESTAMPTZ``
    (:mod:`~flask_authguard.adapters.schema`).
``prisma``
    The models of Auth.js's Prisma adapter: ``User``, ``Account``, ``Session``,
    ``VerificationToken``, ``Authenticator``, as ``prisma migrate`` creates them (``TEXT`` /
    ``VARCHAR(191)``, ``TIMESTAMP(3)`` / ``DATETIME(3)`` holding UTC); ``cuid()`` string ids. Both
    schemas in circulation work: next-auth v4's (``Account`` and ``Session`` have an ``id``) and
    Auth.js v5's (composite keys), each with or without ``createdAt``/``updatedAt``; which one is
    read from the database's tables (:func:`detect_columns`), and the adapter fills these columns
    as Prisma's client does (``updatedAt`` has no database default).
``drizzle``
    ``@auth/drizzle-adapter``'s default tables: ``user``, ``account``, ``session``,
    ``verificationToken``, ``authenticator``; UUID string ids; ``timestamp`` without time zone on
    PostgreSQL, ``TIMESTAMP`` on MySQL, integer milliseconds on SQLite.

.. versionadded:: 0.1
"""

from __future__ import annotations

import dataclasses
import secrets
import string
import time
import typing as t
import uuid

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..core.errors import ConfigurationError
from .schema import DEFAULT_TABLE_NAMES, Tables, UTCTimestamp, choose_names, define_tables

#: The layouts, by the name ``SQLAlchemyAdapter(layout=...)`` takes.
LAYOUT_NAMES = ("pg", "prisma", "drizzle")
#: Prisma's model names (``@@map`` names go through ``table_names``).
PRISMA_TABLE_NAMES: dict[str, str] = {
    "users": "User",
    "accounts": "Account",
    "sessions": "Session",
    "verification_token": "VerificationToken",
    "authenticators": "Authenticator",
}
#: ``@auth/drizzle-adapter``'s default table names.
DRIZZLE_TABLE_NAMES: dict[str, str] = {
    "users": "user",
    "accounts": "account",
    "sessions": "session",
    "verification_token": "verificationToken",
    "authenticators": "authenticator",
}
#: The columns, by role, that one Prisma schema has and another has not: next-auth v4's docs give
#: ``Account`` and ``Session`` an ``id``; the current docs add ``createdAt``/``updatedAt``.
PRISMA_OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("createdAt", "updatedAt"),
    "accounts": ("id", "createdAt", "updatedAt"),
    "sessions": ("id", "createdAt", "updatedAt"),
}
#: Optional columns present, by role.
Columns = t.Mapping[str, frozenset[str]]
_MYSQL = ("mysql", "mariadb")
_BASE36 = string.digits + string.ascii_lowercase


class _Now(FunctionElement[t.Any]):
    """``@default(now())`` as ``prisma migrate`` writes it (the adapter sends the time anyway)."""

    type = sa.DateTime()
    inherit_cache = True


@compiles(_Now)
def _now_in_milliseconds(element: t.Any, compiler: t.Any, **kw: t.Any) -> str:
    return "CURRENT_TIMESTAMP(3)"


@compiles(_Now, "sqlite")
def _now_sqlite(element: t.Any, compiler: t.Any, **kw: t.Any) -> str:
    return "CURRENT_TIMESTAMP"


def new_cuid() -> str:
    """A new id shaped like Prisma's ``cuid()``: ``c``, the time, then random base-36 digits (25
    characters, sortable by creation time, 80 random bits)."""
    millis, digits = int(time.time() * 1000), []
    while millis:
        millis, digit = divmod(millis, 36)
        digits.append(_BASE36[digit])
    stamp = "".join(reversed(digits)).rjust(8, "0")
    return "c" + stamp + "".join(secrets.choice(_BASE36) for _ in range(16))


def new_uuid() -> str:
    """A new id as Drizzle's ``crypto.randomUUID()`` makes it."""
    return str(uuid.uuid4())


def _pg(metadata: sa.MetaData, names: t.Mapping[str, str], columns: Columns) -> Tables:
    return define_tables(metadata, names)


def _prisma(metadata: sa.MetaData, names: t.Mapping[str, str], columns: Columns) -> Tables:
    def text() -> t.Any:  # String: TEXT, or VARCHAR(191) on MySQL
        return sa.Text().with_variant(sa.String(191), *_MYSQL)

    def stamps(role: str) -> list[sa.Column[t.Any]]:
        made: list[sa.Column[t.Any]] = []
        if "createdAt" in columns[role]:
            made.append(sa.Column("createdAt", UTCTimestamp(3), nullable=False, server_default=_Now()))
        if "updatedAt" in columns[role]:
            made.append(sa.Column("updatedAt", UTCTimestamp(3), nullable=False))
        return made

    def user_key(table: str) -> sa.ForeignKeyConstraint:
        return sa.ForeignKeyConstraint(
            ["userId"], [users.c.id], name=f"{table}_userId_fkey", ondelete="CASCADE", onupdate="CASCADE"
        )

    user, account, session = names["users"], names["accounts"], names["sessions"]
    users = sa.Table(
        user,
        metadata,
        sa.Column("id", text(), nullable=False),
        sa.Column("name", text()),
        sa.Column("email", text(), nullable=False),
        sa.Column("emailVerified", UTCTimestamp(3)),
        sa.Column("image", text()),
        *stamps("users"),
        sa.PrimaryKeyConstraint("id", name=f"{user}_pkey"),
        sa.Index(f"{user}_email_key", "email", unique=True),
    )
    account_id = "id" in columns["accounts"]
    accounts = sa.Table(
        account,
        metadata,
        *([sa.Column("id", text(), nullable=False)] if account_id else []),
        sa.Column("userId", text(), nullable=False),
        sa.Column("type", text(), nullable=False),
        sa.Column("provider", text(), nullable=False),
        sa.Column("providerAccountId", text(), nullable=False),
        sa.Column("refresh_token", sa.Text),  # @db.Text in the MySQL schemas
        sa.Column("access_token", sa.Text),
        sa.Column("expires_at", sa.Integer),
        sa.Column("token_type", text()),
        sa.Column("scope", text()),
        sa.Column("id_token", sa.Text),
        sa.Column("session_state", text()),
        *stamps("accounts"),
        *_account_keys(account, account_id),
        user_key(account),
    )
    session_id = "id" in columns["sessions"]
    sessions = sa.Table(
        session,
        metadata,
        *([sa.Column("id", text(), nullable=False)] if session_id else []),
        sa.Column("sessionToken", text(), nullable=False),
        sa.Column("userId", text(), nullable=False),
        sa.Column("expires", UTCTimestamp(3), nullable=False),
        *stamps("sessions"),
        *([sa.PrimaryKeyConstraint("id", name=f"{session}_pkey")] if session_id else []),
        sa.Index(f"{session}_sessionToken_key", "sessionToken", unique=True),
        user_key(session),
    )
    token = names["verification_token"]
    verification_token = sa.Table(
        token,
        metadata,
        sa.Column("identifier", text(), nullable=False),
        sa.Column("token", text(), nullable=False),
        sa.Column("expires", UTCTimestamp(3), nullable=False),
        sa.PrimaryKeyConstraint("identifier", "token", name=f"{token}_pkey"),
    )
    passkey = names["authenticators"]
    authenticators = sa.Table(
        passkey,
        metadata,
        *_authenticator_columns(text, sa.Boolean()),
        sa.PrimaryKeyConstraint("userId", "credentialID", name=f"{passkey}_pkey"),
        sa.Index(f"{passkey}_credentialID_key", "credentialID", unique=True),
        user_key(passkey),
    )
    return Tables(users, accounts, sessions, verification_token, authenticators)


def _authenticator_columns(text: t.Callable[[], t.Any], boolean: t.Any) -> list[sa.Column[t.Any]]:
    """Auth.js's ``Authenticator`` columns, as the Prisma and Drizzle schemas declare them (text
    ids, a 32-bit ``counter``); ``boolean``: the layout's ``credentialBackedUp`` type."""
    return [
        sa.Column("credentialID", text(), nullable=False),
        sa.Column("userId", text(), nullable=False),
        sa.Column("providerAccountId", text(), nullable=False),
        sa.Column("credentialPublicKey", text(), nullable=False),
        sa.Column("counter", sa.Integer, nullable=False),
        sa.Column("credentialDeviceType", text(), nullable=False),
        sa.Column("credentialBackedUp", boolean, nullable=False),
        sa.Column("transports", text()),
    ]


def _account_keys(table: str, own_id: bool) -> list[t.Any]:
    """next-auth v4's ``id`` key with ``@@unique([provider, providerAccountId])``, or v5's
    ``@@id([provider, providerAccountId])``."""
    if own_id:
        return [
            sa.PrimaryKeyConstraint("id", name=f"{table}_pkey"),
            sa.Index(f"{table}_provider_providerAccountId_key", "provider", "providerAccountId", unique=True),
        ]
    return [sa.PrimaryKeyConstraint("provider", "providerAccountId", name=f"{table}_pkey")]


def _drizzle(metadata: sa.MetaData, names: t.Mapping[str, str], columns: Columns) -> Tables:
    def text(mysql_length: int = 255) -> t.Any:  # text(), varchar(255) on MySQL
        return sa.Text().with_variant(sa.String(mysql_length), *_MYSQL)

    def moment(mysql_precision: int | None) -> t.Any:  # timestamp(mode "date"), integer ms on SQLite
        column = UTCTimestamp(None, mysql_timestamp=True, sqlite_epoch_ms=True)
        return column.with_variant(UTCTimestamp(mysql_precision, mysql_timestamp=True), *_MYSQL)

    user = names["users"]

    def user_key(table: str) -> sa.ForeignKeyConstraint:
        return sa.ForeignKeyConstraint(
            ["userId"], [users.c.id], name=f"{table}_userId_{user}_id_fk", ondelete="CASCADE"
        )

    users = sa.Table(
        user,
        metadata,
        sa.Column("id", text(), primary_key=True),
        sa.Column("name", text()),
        sa.Column("email", text()),
        sa.Column("emailVerified", moment(3)),
        sa.Column("image", text()),
        sa.UniqueConstraint("email", name=f"{user}_email_unique"),
    )
    account = names["accounts"]
    accounts = sa.Table(
        account,
        metadata,
        sa.Column("userId", text(), nullable=False),
        sa.Column("type", text(), nullable=False),
        sa.Column("provider", text(), nullable=False),
        sa.Column("providerAccountId", text(), nullable=False),
        sa.Column("refresh_token", text()),
        sa.Column("access_token", text()),
        sa.Column("expires_at", sa.Integer),
        sa.Column("token_type", text()),
        sa.Column("scope", text()),
        sa.Column("id_token", text(2048)),
        sa.Column("session_state", text()),
        sa.PrimaryKeyConstraint(
            "provider", "providerAccountId", name=f"{account}_provider_providerAccountId_pk"
        ),
        user_key(account),
    )
    session = names["sessions"]
    sessions = sa.Table(
        session,
        metadata,
        sa.Column("sessionToken", text(), primary_key=True),
        sa.Column("userId", text(), nullable=False),
        sa.Column("expires", moment(None), nullable=False),
        user_key(session),
    )
    token = names["verification_token"]
    verification_token = sa.Table(
        token,
        metadata,
        sa.Column("identifier", text(), nullable=False),
        sa.Column("token", text(), nullable=False),
        sa.Column("expires", moment(None), nullable=False),
        sa.PrimaryKeyConstraint("identifier", "token", name=f"{token}_identifier_token_pk"),
    )
    passkey = names["authenticators"]
    authenticators = sa.Table(
        passkey,
        metadata,
        *_authenticator_columns(text, sa.Boolean().with_variant(sa.Integer(), "sqlite")),
        sa.PrimaryKeyConstraint("userId", "credentialID", name=f"{passkey}_userId_credentialID_pk"),
        sa.UniqueConstraint("credentialID", name=f"{passkey}_credentialID_unique"),
        user_key(passkey),
    )
    return Tables(users, accounts, sessions, verification_token, authenticators)


@dataclasses.dataclass(frozen=True)
class Layout:
    """Whose tables: their default names, how ids are made, how the tables are defined."""

    #: ``"pg"``, ``"prisma"`` or ``"drizzle"``.
    name: str
    #: The default table name of each role.
    table_names: t.Mapping[str, str]
    #: Makes the id of a new row (text ids); ``None``: the database numbers users (serial ids).
    new_id: t.Callable[[], str] | None
    #: The columns, by role, that are read from the database's tables (:func:`detect_columns`).
    optional_columns: t.Mapping[str, tuple[str, ...]]
    #: The optional columns :meth:`define` gives tables before the database was read (and
    #: ``create_tables`` creates).
    default_columns: Columns
    _define: t.Callable[[sa.MetaData, t.Mapping[str, str], Columns], Tables]

    def define(
        self, metadata: sa.MetaData, names: t.Mapping[str, str], columns: Columns | None = None
    ) -> Tables:
        """The tables on ``metadata``, named ``names`` (chosen by :meth:`names`), with the
        optional ``columns`` (default :attr:`default_columns`)."""
        return self._define(metadata, names, self.default_columns if columns is None else columns)

    def names(self, table_names: t.Mapping[str, str] | None) -> dict[str, str]:
        """The table name of each role, ``table_names`` overriding the defaults.

        :raises ConfigurationError: an unknown role, an empty name, two roles with one name.
        """
        return choose_names(self.table_names, table_names)


LAYOUTS: dict[str, Layout] = {
    "pg": Layout("pg", DEFAULT_TABLE_NAMES, None, {}, {}, _pg),
    "prisma": Layout(
        "prisma",
        PRISMA_TABLE_NAMES,
        new_cuid,
        PRISMA_OPTIONAL_COLUMNS,
        # Auth.js v5's current schema: composite keys, createdAt/updatedAt.
        dict.fromkeys(("users", "accounts", "sessions"), frozenset({"createdAt", "updatedAt"})),
        _prisma,
    ),
    "drizzle": Layout("drizzle", DRIZZLE_TABLE_NAMES, new_uuid, {}, {}, _drizzle),
}


def layout_named(name: t.Any) -> Layout:
    """The layout called ``name``.

    :raises ConfigurationError: there is none.
    """
    layout = LAYOUTS.get(name) if isinstance(name, str) else None
    if layout is None:
        raise ConfigurationError(f"unknown layout {name!r}: use one of {', '.join(map(repr, LAYOUT_NAMES))}")
    return layout


def detect_columns(conn: sa.Connection, layout: Layout, tables: Tables) -> Columns | None:
    """The optional columns of ``layout`` that the database's tables have, by role; ``None`` when
    a table is missing (nothing to read yet)."""
    if not layout.optional_columns:
        return layout.default_columns
    inspector = sa.inspect(conn)
    found: dict[str, frozenset[str]] = {}
    for role, optional in layout.optional_columns.items():
        table: sa.Table = getattr(tables, role)
        try:
            present = {column["name"] for column in inspector.get_columns(table.name, schema=table.schema)}
        except sa_exc.NoSuchTableError:
            return None
        found[role] = frozenset(name for name in optional if name in present)
    return found


__all__ = [
    "DRIZZLE_TABLE_NAMES",
    "LAYOUTS",
    "LAYOUT_NAMES",
    "PRISMA_OPTIONAL_COLUMNS",
    "PRISMA_TABLE_NAMES",
    "Columns",
    "Layout",
    "detect_columns",
    "layout_named",
    "new_cuid",
    "new_uuid",
]
