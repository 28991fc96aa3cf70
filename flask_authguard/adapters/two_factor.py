"""The second factor's table, ``authguard_two_factor``: ours, beside Auth.js's tables.

One row a user who turned the second factor on: the user id as text (whatever the table layout
calls its users, no foreign key, so it works beside every layout and for users the adapter does
not hold, such as a credentials ``authorize``'s), the sealed TOTP secret, the last time step
used, and the recovery codes' hashes (a JSON list). :class:`TwoFactorRows` gives
:class:`~flask_authguard.adapters.sqlalchemy.SQLAlchemyAdapter` its ``get_two_factor`` and
``save_two_factor``; ``create_tables=True`` creates the table with the others.

.. versionadded:: 0.1
"""

from __future__ import annotations

import json
import typing as t

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from .records import usable

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: The table's name.
TWO_FACTOR_TABLE = "authguard_two_factor"


def define_two_factor_table(metadata: sa.MetaData, name: str = TWO_FACTOR_TABLE) -> sa.Table:
    """The ``authguard_two_factor`` table on ``metadata``.

    On MySQL/MariaDB the key is a ``VARCHAR`` (no index on ``TEXT``) and the compared text is
    binary: a case-insensitive collation would give ``"Alice"`` the row of ``"alice"``
    (:meth:`TwoFactorRows.get_two_factor` also checks what trailing spaces a collation ignores).
    """
    return sa.Table(
        name,
        metadata,
        sa.Column(
            "user_id",
            sa.String(255).with_variant(
                mysql.VARCHAR(255, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
            ),
            primary_key=True,
        ),
        sa.Column(
            "secret",
            sa.Text().with_variant(
                mysql.TEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
            ),
            nullable=False,
        ),
        sa.Column("last_step", sa.BigInteger),
        sa.Column("recovery_codes", sa.Text, nullable=False),
    )


def _record(row: t.Any) -> dict[str, t.Any]:
    codes = json.loads(row.recovery_codes or "[]")
    return {"secret": row.secret, "last_step": row.last_step, "recovery_codes": list(codes)}


class _Host(t.Protocol):
    """What the mixin needs of the adapter it is mixed into."""

    two_factor_table: sa.Table

    def _transaction(self, operation: str) -> t.ContextManager[Connection]: ...

    def _first(self, operation: str, statement: t.Any) -> t.Any: ...


class TwoFactorRows:
    """``get_two_factor`` / ``save_two_factor`` on the table (a mixin of the SQLAlchemy adapter,
    which provides ``_transaction``, ``_first`` and ``two_factor_table``)."""

    def get_two_factor(self: _Host, user_id: str) -> dict[str, t.Any] | None:
        """The user's second-factor record, or ``None`` when the user has not turned it on."""
        if not usable(user_id, 255):
            return None
        table = self.two_factor_table
        row = self._first("get_two_factor", sa.select(table).where(table.c.user_id == user_id))
        # MySQL's collations ignore trailing spaces, even a binary one: the id must match exactly.
        return None if row is None or row.user_id != user_id else _record(row)

    def save_two_factor(
        self: _Host,
        user_id: str,
        record: t.Mapping[str, t.Any] | None,
        previous: t.Mapping[str, t.Any] | None,
    ) -> bool:
        """Store ``record`` (``None``: delete) if the stored one is still ``previous``
        (``None``: there is none); ``False`` when another request changed it meanwhile (two
        requests using one code: only one wins)."""
        table = self.two_factor_table
        if previous is None:
            if record is None:
                return True
            try:
                with self._transaction("save_two_factor") as conn:
                    conn.execute(sa.insert(table).values(user_id=user_id, **_columns(record)))
            except sa.exc.IntegrityError:  # enrolled meanwhile
                return False
            return True
        with self._transaction("save_two_factor") as conn:
            where = sa.and_(
                table.c.user_id == user_id,
                table.c.secret == previous["secret"],
                table.c.recovery_codes == json.dumps(list(previous["recovery_codes"])),
                table.c.last_step.is_(None)
                if previous.get("last_step") is None
                else table.c.last_step == previous["last_step"],
            )
            if record is None:
                return bool(conn.execute(sa.delete(table).where(where)).rowcount)
            return bool(conn.execute(sa.update(table).where(where).values(**_columns(record))).rowcount)


def _columns(record: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {
        "secret": record["secret"],
        "last_step": record.get("last_step"),
        "recovery_codes": json.dumps(list(record["recovery_codes"])),
    }


__all__ = ["TWO_FACTOR_TABLE", "TwoFactorRows", "define_two_factor_table"]
