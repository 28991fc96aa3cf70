"""What goes into rows and what comes out: input checks, and rows as next-auth's records.

Ids are strings in records, and serial integers (pg layout) or text (Prisma, Drizzle) in the
tables; text no row can hold (empty,
NUL, not UTF-8, longer than the column) is refused before it reaches the database, so a lookup
with it finds nothing and a write with it is a :class:`ValueError`.

.. versionadded:: 0.1
"""

from __future__ import annotations

import datetime as dt
import typing as t

from . import (
    ACCOUNT_TOKEN_FIELDS,
    AdapterAccount,
    AdapterSession,
    AdapterUser,
    SessionAndUser,
    VerificationToken,
)
from .schema import MAX_SESSION_TOKEN_LENGTH

#: Ids are ``SERIAL`` (PostgreSQL ``integer``).
MAX_ID = 2**31 - 1
#: The longest text id looked up (Prisma's ``cuid()`` is 25 characters, a UUID 36).
MAX_TEXT_ID_LENGTH = 255
#: The columns of ``users`` a record may set.
USER_FIELDS = ("name", "email", "emailVerified", "image")
#: The columns of an accounts row :func:`account_record` reads (every layout has them; Prisma's
#: ``id``, ``createdAt`` and ``updatedAt`` only some tables have).
ACCOUNT_FIELDS = ("userId", "type", "provider", "providerAccountId", *ACCOUNT_TOKEN_FIELDS)


def as_id(value: t.Any) -> int | None:
    """A serial id from a record's string id (or an int); ``None`` when it cannot be one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        number = int(value)
    else:
        return None
    return number if 0 < number <= MAX_ID else None


def text_id(value: t.Any) -> str | None:
    """A text id (Prisma, Drizzle layouts) from a record's id (an int is taken as its digits);
    ``None`` when no row can have it."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if usable(value, MAX_TEXT_ID_LENGTH) else None


def usable(value: t.Any, max_length: int | None = None) -> bool:
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


def usable_token(value: t.Any) -> bool:
    """A session token a ``"sessionToken"`` (``VARCHAR(255)``) can hold."""
    return usable(value, MAX_SESSION_TOKEN_LENGTH)


def need_id(value: t.Any, what: str, text: bool = False) -> t.Any:
    """The id ``value`` names: serial (an ``int``), or ``text`` (a ``str``).

    :raises ValueError: it names none.
    """
    found = text_id(value) if text else as_id(value)
    if found is None:
        kind = "non-empty text" if text else "a positive integer, or its string"
        raise ValueError(f"{what} must be a user id ({kind}), not {value!r}")
    return found


def need_datetime(value: t.Any, what: str) -> dt.datetime:
    """``value``, a datetime.

    :raises TypeError: it is something else.
    """
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{what} must be a datetime, not {type(value).__name__}")
    return value


def user_record(row: t.Any) -> AdapterUser:
    """A ``users`` row (or a join with its columns) as an :class:`AdapterUser`."""
    m = row._mapping
    return {
        "id": str(m["id"]),
        "name": m["name"],
        "email": m["email"],
        "emailVerified": m["emailVerified"],
        "image": m["image"],
    }


def session_record(row: t.Any) -> AdapterSession:
    """A ``sessions`` row (or a join with its columns) as an :class:`AdapterSession`; ``expires``
    ``None`` when the row was read without it (a stored value with no Python form)."""
    m = row._mapping
    return {"sessionToken": m["sessionToken"], "userId": str(m["userId"]), "expires": m.get("expires")}


def session_and_user_record(row: t.Sequence[t.Any]) -> SessionAndUser:
    """A row of :func:`~flask_authguard.adapters.schema.session_and_user_query` (a tuple or a
    SQLAlchemy ``Row``, columns in its order) as the session and its user."""
    token, user_id, expires, id_, name, email, verified, image = row
    return {
        "session": {"sessionToken": token, "userId": str(user_id), "expires": expires},
        "user": {"id": str(id_), "name": name, "email": email, "emailVerified": verified, "image": image},
    }


def account_record(row: t.Any) -> AdapterAccount:
    """An ``accounts`` row as an :class:`AdapterAccount`."""
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


def verification_record(row: t.Any) -> VerificationToken:
    """A ``verification_token`` row as a :class:`VerificationToken`."""
    m = row._mapping
    return {"identifier": m["identifier"], "token": m["token"], "expires": m["expires"]}


__all__ = [
    "ACCOUNT_FIELDS",
    "MAX_ID",
    "MAX_TEXT_ID_LENGTH",
    "USER_FIELDS",
    "account_record",
    "as_id",
    "need_datetime",
    "need_id",
    "session_and_user_record",
    "session_record",
    "text_id",
    "usable",
    "usable_token",
    "user_record",
    "verification_record",
]
