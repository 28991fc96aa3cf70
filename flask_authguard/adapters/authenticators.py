"""Passkeys in the database: Auth.js's ``Authenticator`` table and its adapter methods.

The table keeps one row per passkey (WebAuthn credential) with Auth.js's column names, so a
Next.js app on Auth.js and a Flask app read each other's passkeys:

=========================  ================================================================
``credentialID``           the credential's id, standard base64 (as Auth.js stores it); unique
``userId``                 the user it signs in
``providerAccountId``      the ``accounts`` row linking the passkey (the same base64 id)
``credentialPublicKey``    the COSE public key, standard base64
``counter``                the authenticator's signature count, updated at each sign-in
``credentialDeviceType``   ``"singleDevice"`` or ``"multiDevice"`` (synced)
``credentialBackedUp``     whether the passkey is backed up (synced)
``transports``             how the browser reaches it, comma-separated (``"internal,hybrid"``)
=========================  ================================================================

Every layout has the table (:mod:`~flask_authguard.adapters.layouts`): Prisma's
``Authenticator`` model and Drizzle's ``authenticator`` table as Auth.js defines them (text user
ids, ``counter`` a 32-bit ``Int``), and, since ``@auth/pg-adapter`` has none, ``authenticators``
in its layout (lower-case plural table names, quoted camelCase columns, serial user ids), with the
primary key and unique index of Auth.js's SQL (``("userId", "credentialID")``,
``"credentialID"``) and ``ON DELETE CASCADE`` from users; its ``counter`` is a ``BIGINT``: a
signature count is 32 bits unsigned. ``credentialID`` holds at most
:data:`~flask_authguard.adapters.schema.MAX_CREDENTIAL_ID_LENGTH` characters, as the ``accounts``
row that links the passkey does. On MySQL/MariaDB, whose collations may compare text without
case, a credential id must also match exactly.

:class:`Authenticators` holds the adapter methods (a base of
:class:`~flask_authguard.adapters.sqlalchemy.SQLAlchemyAdapter`): Auth.js's
``createAuthenticator``, ``getAuthenticator``, ``listAuthenticatorsByUserId`` and
``updateAuthenticatorCounter`` in snake_case, and ``delete_authenticator`` (ours: the passkeys
page removes one). They read the table's columns by those names, whatever the table is called.

.. versionadded:: 0.1
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from .records import need_id, usable
from .rows import Rows
from .schema import MAX_CREDENTIAL_ID_LENGTH

#: Signature counts are 32 bits unsigned.
MAX_COUNTER = 2**32 - 1


class AdapterAuthenticator(t.TypedDict):
    """A passkey (Auth.js's ``AdapterAuthenticator``); ids and keys in standard base64."""

    credentialID: str
    userId: str
    providerAccountId: str
    credentialPublicKey: str
    counter: int
    credentialDeviceType: str
    credentialBackedUp: bool
    transports: str | None


#: The columns of a passkey, in the order of :class:`AdapterAuthenticator`.
AUTHENTICATOR_FIELDS = tuple(AdapterAuthenticator.__annotations__)


def authenticator_record(row: t.Any) -> AdapterAuthenticator:
    """A row of the table as an :class:`AdapterAuthenticator`."""
    m = row._mapping
    return {
        "credentialID": m["credentialID"],
        "userId": str(m["userId"]),
        "providerAccountId": m["providerAccountId"],
        "credentialPublicKey": m["credentialPublicKey"],
        "counter": int(m["counter"]),
        "credentialDeviceType": m["credentialDeviceType"],
        "credentialBackedUp": bool(m["credentialBackedUp"]),
        "transports": m["transports"],
    }


def _counter(value: t.Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNTER:
        raise ValueError(f"counter must be an integer from 0 to 2**32 - 1, not {value!r}")
    return value


def _credential_id(value: t.Any) -> bool:
    return usable(value, MAX_CREDENTIAL_ID_LENGTH)


def _same(row: t.Any, credential_id: str) -> t.Any:
    """``row`` if it is the passkey ``credential_id`` exactly (not by a MySQL collation), else ``None``."""
    return row if row is not None and row._mapping["credentialID"] == credential_id else None


class Authenticators(Rows):
    """The passkey methods of the SQLAlchemy adapter (see the module text), on every layout."""

    @property
    def authenticators(self) -> sa.Table:
        """The passkeys' table (:attr:`Tables.authenticators <.schema.Tables>`)."""
        return self.tables.authenticators

    def create_authenticator(self, authenticator: t.Mapping[str, t.Any]) -> AdapterAuthenticator:
        """Store a passkey.

        :raises sqlalchemy.exc.IntegrityError: the credential is stored already, or no such user.
        :raises ValueError: a field no row can hold.
        """
        credential_id = authenticator.get("credentialID")
        if not _credential_id(credential_id):
            raise ValueError("credentialID must be base64 text of a credential id")
        values: dict[str, t.Any] = {
            "credentialID": credential_id,
            "userId": need_id(authenticator.get("userId"), "userId", self._text_ids),
            "providerAccountId": str(authenticator.get("providerAccountId") or credential_id),
            "credentialPublicKey": str(authenticator["credentialPublicKey"]),
            "counter": _counter(authenticator.get("counter", 0)),
            "credentialDeviceType": str(authenticator["credentialDeviceType"]),
            "credentialBackedUp": bool(authenticator["credentialBackedUp"]),
            "transports": authenticator.get("transports") or None,
        }
        with self._transaction("create_authenticator") as conn:
            conn.execute(sa.insert(self.authenticators).values(**values))
        return t.cast(AdapterAuthenticator, {**values, "userId": str(values["userId"])})

    def get_authenticator(self, credential_id: str) -> AdapterAuthenticator | None:
        """The passkey with this credential id (standard base64)."""
        if not _credential_id(credential_id):
            return None
        table = self.authenticators
        row = self._first("get_authenticator", sa.select(table).where(table.c.credentialID == credential_id))
        row = _same(row, credential_id)
        return None if row is None else authenticator_record(row)

    def list_authenticators_by_user_id(self, user_id: str) -> list[AdapterAuthenticator]:
        """The passkeys of a user (none for an id that names no user)."""
        key = self._id(user_id)
        if key is None:
            return []
        table = self.authenticators
        query = sa.select(table).where(table.c.userId == key).order_by(table.c.credentialID)

        def run() -> list[AdapterAuthenticator]:
            with self._reader.connect() as conn:
                return [authenticator_record(row) for row in conn.execute(query)]

        return self._read("list_authenticators_by_user_id", run)

    def update_authenticator_counter(self, credential_id: str, new_counter: int) -> AdapterAuthenticator:
        """Set the signature count of a passkey; the updated record.

        :raises LookupError: there is no such passkey.
        """
        counter = _counter(new_counter)
        table = self.authenticators
        where = table.c.credentialID == credential_id
        row = None
        with self._transaction("update_authenticator_counter") as conn:
            if _credential_id(credential_id):
                row = _same(conn.execute(sa.select(table).where(where)).first(), credential_id)
            if row is not None:
                conn.execute(sa.update(table).where(where).values(counter=counter))
                row = conn.execute(sa.select(table).where(where)).first()
        if row is None:
            raise LookupError("update_authenticator_counter: no such authenticator")
        return authenticator_record(row)

    def delete_authenticator(self, credential_id: str) -> AdapterAuthenticator | None:
        """Delete a passkey; the deleted record (to one caller only). It signs in no more.

        .. note:: Ours: Auth.js's adapters have no such method.
        """
        if not _credential_id(credential_id):
            return None
        table = self.authenticators
        where = table.c.credentialID == credential_id
        with self._transaction("delete_authenticator") as conn:
            row = _same(conn.execute(sa.select(table).where(where)).first(), credential_id)
            if row is None:
                return None
            deleted = conn.execute(sa.delete(table).where(where)).rowcount
        return authenticator_record(row) if deleted else None


__all__ = [
    "AUTHENTICATOR_FIELDS",
    "MAX_COUNTER",
    "MAX_CREDENTIAL_ID_LENGTH",
    "AdapterAuthenticator",
    "Authenticators",
    "authenticator_record",
]
