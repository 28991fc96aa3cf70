"""Rows as the JavaScript adapters write them: the tables as the database has them (Prisma's
schema read from its tables), text ids made here, Prisma's ``createdAt``/``updatedAt`` filled in.

.. versionadded:: 0.1
"""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa

from .connections import Connections
from .layouts import Columns, Layout, detect_columns
from .records import ACCOUNT_FIELDS, USER_FIELDS, as_id, text_id
from .schema import Tables
from .two_factor import define_two_factor_table


class Rows(Connections):
    """The layout's rows (a base of :class:`~flask_authguard.adapters.sqlalchemy.SQLAlchemyAdapter`)."""

    layout: Layout
    metadata: sa.MetaData
    tables: Tables
    _names: dict[str, str]
    #: Whether :attr:`tables` are those of the database (Prisma: read at the first write).
    _shape_read: bool
    _user_columns: tuple[sa.Column[t.Any], ...]
    #: Whether ids are text made here (Prisma, Drizzle) rather than serial.
    _text_ids: bool
    #: A record's user id as the tables hold it (:func:`text_id` or :func:`as_id`), ``None``
    #: when no row can have it.
    _id: t.Callable[[t.Any], t.Any]
    #: Our table beside the layout's: each user's second factor, any layout.
    two_factor_table: sa.Table

    def _define_tables(self, names: dict[str, str], schema: str | None) -> None:
        self._names = names
        #: The schema's metadata (``create_all``/``drop_all``, Alembic's ``target_metadata``):
        #: the layout's tables (Prisma: Auth.js v5's schema until the database's has been read).
        self.metadata = sa.MetaData(schema=schema)
        #: The tables: ``users``, ``accounts``, ``sessions``, ``verification_token`` (and
        #: ``authenticators``).
        self.tables = self.layout.define(self.metadata, names)
        self.two_factor_table = define_two_factor_table(self.metadata)
        self._shape_read = not self.layout.optional_columns
        self._text_ids = self.layout.new_id is not None
        self._id = text_id if self._text_ids else as_id
        self._user_columns = self._columns_of_users()

    # -- schema ------------------------------------------------------------------------------

    def create_tables(self) -> None:
        """Create the tables that do not exist yet (and the ``schema``, on PostgreSQL).

        Safe to call on every start; existing tables are left as they are (no migrations).
        """
        with self._transaction("create_tables") as conn:
            if self.metadata.schema and conn.dialect.name == "postgresql":
                conn.execute(sa.schema.CreateSchema(self.metadata.schema, if_not_exists=True))
            self.metadata.create_all(conn, checkfirst=True)
        self._shape_read = False
        self._shaped()

    def drop_tables(self) -> None:
        """Drop the layout's tables, with every user and session in them."""
        with self._transaction("drop_tables") as conn:
            self.metadata.drop_all(conn, checkfirst=True)

    # -- the tables as the database has them -----------------------------------------------

    def _shaped(self) -> Tables:
        """The tables as the database has them: Prisma's optional columns (``id`` of accounts and
        sessions, ``createdAt``/``updatedAt``) read once, at the first write; other layouts have
        none to read.

        :raises BackendUnavailableError: the database cannot be reached.
        """
        if self._shape_read:
            return self.tables
        with self._failures("read_tables"), self.engine.connect() as conn:
            columns = detect_columns(conn, self.layout, self.tables)
        if columns is not None:  # else no tables yet: read again at the next write
            if columns != self._columns_now():
                metadata = sa.MetaData(schema=self.metadata.schema)
                self.tables = self.layout.define(metadata, self._names, columns)
                self.two_factor_table = define_two_factor_table(metadata)
                self.metadata = metadata
                self._user_columns = self._columns_of_users()
            self._shape_read = True
        return self.tables

    def _columns_now(self) -> Columns:
        return {
            role: frozenset(name for name in optional if name in getattr(self.tables, role).c)
            for role, optional in self.layout.optional_columns.items()
        }

    def _columns_of_users(self) -> tuple[sa.Column[t.Any], ...]:
        users = self.tables.users
        return tuple(users.c[name] for name in ("id", *USER_FIELDS))

    def _account_columns(self) -> tuple[sa.Column[t.Any], ...]:
        """The columns of ``accounts`` a record is made of (never a column the table may lack)."""
        accounts = self.tables.accounts
        return tuple(accounts.c[name] for name in ACCOUNT_FIELDS)

    def _session_columns(self) -> tuple[sa.Column[t.Any], ...]:
        """The columns of ``sessions`` a record is made of."""
        sessions = self.tables.sessions
        return (sessions.c.sessionToken, sessions.c.userId, sessions.c.expires)

    def _has_table(self, conn: sa.Connection, table: sa.Table) -> bool:
        """Whether the database has ``table`` (one query: for rare operations only)."""
        return sa.inspect(conn).has_table(table.name, schema=table.schema)

    def _new_row(self, table: sa.Table, values: dict[str, t.Any]) -> dict[str, t.Any]:
        """``values`` with what the JavaScript client would add: a text ``id`` where the table has
        one, and ``createdAt``/``updatedAt`` where it has them."""
        if self.layout.new_id is not None and "id" in table.c and "id" not in values:
            values = {"id": self.layout.new_id(), **values}
        return self._stamped(table, values, created=True)

    @staticmethod
    def _stamped(table: sa.Table, values: dict[str, t.Any], created: bool = False) -> dict[str, t.Any]:
        """``values`` with ``updatedAt`` (and ``createdAt`` for a new row) where the table has
        them: Prisma's client fills them in, the database has no default for ``updatedAt``."""
        now = dt.datetime.now(dt.timezone.utc)
        stamps = {"createdAt": now} if created and "createdAt" in table.c else {}
        if "updatedAt" in table.c:
            stamps["updatedAt"] = now
        return {**values, **stamps} if stamps else values


__all__ = ["Rows"]
