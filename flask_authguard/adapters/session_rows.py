"""The sessions table's rows: a session made at sign-in, read with its user on every request
(one statement, a :class:`~flask_authguard.adapters.reads.CompiledRead`), extended, ended, and a
user's sessions listed or ended together. :class:`SessionRows` gives
:class:`~flask_authguard.adapters.sqlalchemy.SQLAlchemyAdapter` these methods, on every layout.

.. versionadded:: 0.1
"""

from __future__ import annotations

import logging
import typing as t

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from . import AdapterSession, SessionAndUser
from .reads import CompiledRead
from .records import need_datetime, need_id, session_and_user_record, session_record, usable_token
from .rows import Rows
from .schema import MAX_SESSION_TOKEN_LENGTH

logger = logging.getLogger("flask_authguard")

#: What reading a row raises when a stored value has no Python form (PostgreSQL's ``infinity``,
#: MariaDB's zero date ``0000-00-00``): the row's fault, not the database's. Such a session
#: is no session, and signing out still deletes it.
UNREADABLE = (sa_exc.DataError, ValueError, OverflowError)


class SessionRows(Rows):
    """``create_session``, ``get_session_and_user``, ``update_session``, ``delete_session``,
    ``delete_user_sessions`` and ``list_user_sessions`` (a base of
    :class:`~flask_authguard.adapters.sqlalchemy.SQLAlchemyAdapter`)."""

    #: The session-and-user read, built once from the tables (the adapter's ``__init__``).
    _session_lookup: CompiledRead

    def create_session(self, session: t.Mapping[str, t.Any]) -> AdapterSession:
        """Insert a session.

        :raises sqlalchemy.exc.IntegrityError: the token exists already, or no such user.
        """
        token = session.get("sessionToken")
        if not usable_token(token):
            raise ValueError(
                f"sessionToken must be text of 1 to {MAX_SESSION_TOKEN_LENGTH} characters without NUL"
            )
        user_id = need_id(session.get("userId"), "userId", self._text_ids)
        expires = need_datetime(session.get("expires"), "expires")
        values = {"sessionToken": token, "userId": user_id, "expires": expires}
        sessions = self._shaped().sessions
        with self._transaction("create_session") as conn:
            conn.execute(sa.insert(sessions).values(**self._new_row(sessions, values)))
        return {"sessionToken": t.cast(str, token), "userId": str(user_id), "expires": expires}

    def get_session_and_user(self, session_token: str) -> SessionAndUser | None:
        """The session and its user, in one statement (one consistent read). The token must
        match exactly, also where a MySQL collation compares text without case or trailing spaces."""
        if not usable_token(session_token):
            return None
        try:
            row = self._first_compiled("get_session_and_user", self._session_lookup, {"token": session_token})
        except UNREADABLE as exc:
            logger.warning("a session row that cannot be read is no session: %s", type(exc).__name__)
            return None
        if row is None or row[0] != session_token:
            return None
        return session_and_user_record(row)

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
            changes["userId"] = need_id(session["userId"], "userId", self._text_ids)
        sessions = self._shaped().sessions
        where = sessions.c.sessionToken == token
        columns = (sessions.c.sessionToken, sessions.c.userId, sessions.c.expires)
        with self._transaction("update_session") as conn:
            if changes:
                update = sa.update(sessions).where(where).values(**self._stamped(sessions, changes))
                if not conn.execute(update).rowcount:
                    return None
            row = conn.execute(sa.select(*columns).where(where)).first()
        return None if row is None else session_record(row)

    def delete_session(self, session_token: str) -> AdapterSession | None:
        """Delete the session with this token; the deleted session (to one caller only)."""
        if not usable_token(session_token):
            return None
        sessions = self.tables.sessions
        columns = [sessions.c.sessionToken, sessions.c.userId, sessions.c.expires]
        try:
            return self._delete_session(session_token, columns)
        except UNREADABLE:  # an expires with no Python form: deleted all the same, without it
            return self._delete_session(session_token, columns[:2])

    def _delete_session(self, session_token: str, columns: t.Sequence[t.Any]) -> AdapterSession | None:
        sessions = self.tables.sessions
        where = sessions.c.sessionToken == session_token
        with self._transaction("delete_session") as conn:
            row = conn.execute(sa.select(*columns).where(where)).first()
            if row is None or not conn.execute(sa.delete(sessions).where(where)).rowcount:
                return None
        return session_record(row)

    def delete_user_sessions(self, user_id: str) -> int:
        """Delete every session of a user (sign out everywhere, revoke a user); how many.

        .. versionadded:: 0.1
        """
        key = self._id(user_id)
        if key is None:
            return 0
        sessions = self.tables.sessions
        with self._transaction("delete_user_sessions") as conn:
            return int(conn.execute(sa.delete(sessions).where(sessions.c.userId == key)).rowcount)

    def list_user_sessions(self, user_id: str) -> list[AdapterSession]:
        """Every session of a user, expired ones included ("your devices").

        .. versionadded:: 0.1
        """
        key = self._id(user_id)
        if key is None:
            return []
        sessions = self.tables.sessions
        query = (
            sa.select(*self._session_columns())
            .where(sessions.c.userId == key)
            .order_by(sessions.c.expires.desc())
        )

        def run() -> list[t.Any]:
            with self._reader.connect() as conn:
                return list(conn.execute(query))

        return [session_record(row) for row in self._read("list_user_sessions", run)]


__all__ = ["SessionRows"]
