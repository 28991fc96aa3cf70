"""A user's sessions ("your devices"): list them, end one, and when each signed in.

Each strategy owns one of these (``strategy.devices``): :class:`JwtDevices` or
:class:`DatabaseDevices`. Both keep a small record per session in the ``store``
(:class:`~flask_authguard.core.session_index.SessionIndex`) and answer the same questions:

- :meth:`~JwtDevices.list`: the user's live sessions, each a ``dict`` with ``id`` (opaque: an
  HMAC of the session's ``sid`` or session token, never the token), ``signed_in_at``,
  ``last_seen_at`` (aware UTC datetimes, ``None`` when unknown), ``user_agent`` and ``current``
  (the session of the request asking, if any);
- :meth:`~JwtDevices.end`: end one of them by that id;
- :meth:`~JwtDevices.sign_in_time`: when the request's session signed in (step-up sign-in): the
  session's start, or when the identity provider last authenticated the user if that is earlier
  (an OpenID Connect sign-in the provider answered from a session of its own).

JWT sessions: the sign-in records the token's ``sid`` with its ``auth_time``, the user agent and
the time; every later request of the session writes "last seen" again at most once per
``session.update_age`` (per worker). Ending one revokes its ``sid``
(:class:`~flask_authguard.core.defences.revocation.RevocationList`): every copy of the token is refused on
every worker sharing the store. A token nobody recorded (issued before, or by next-auth with the
``sid`` claim) is recorded the first time a worker sees it.

Database sessions: the rows are the list (the adapter's ``list_user_sessions(user_id)``); the
record adds the sign-in time and user agent, and "last seen" is the row's last extension
(``expires - session.max_age``, moved at most once per ``update_age``). Ending one deletes its row.

A new sign-in in a browser replaces the session that browser had (:meth:`~JwtDevices.replace`):
the old one is ended (its ``sid`` revoked, or its row deleted) and leaves the list; the new one
starts with a new ``sid`` and sign-in time. So signing in again (step-up) moves the sign-in
time forward and the device still shows once.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import typing as t

from ..core import _clock
from ..core.defences.revocation import (
    AUTH_TIME,
    IDP_AUTH_TIME,
    SESSION_ID,
    authenticated_time,
    sign_in_times,
    user_of,
)
from ..core.errors import BackendUnavailableError
from ..core.runtime import runtime_of
from ..core.session_index import SessionIndex, opaque_id
from ..core.settings.config import Config
from ..core.tokens.claims import is_timestamp
from ..core.tokens.request_token import Claims
from .adapter_calls import adapter_method, call_adapter, plausible_token, session_token, timestamp_of

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

logger = logging.getLogger("flask_authguard")

#: The longest user agent kept, in characters.
MAX_USER_AGENT = 256
#: Sessions whose "last seen" each worker remembers writing (then it starts again).
SEEN_MEMORY = 10_000

SessionEntry = dict[str, t.Any]


def _when(timestamp: t.Any) -> dt.datetime | None:
    if not is_timestamp(timestamp):
        return None
    return dt.datetime.fromtimestamp(float(timestamp), dt.timezone.utc)


def _user_agent(environ: WSGIEnvironment | None) -> str | None:
    agent = (environ or {}).get("HTTP_USER_AGENT")
    return agent[:MAX_USER_AGENT] if isinstance(agent, str) and agent else None


def _user_id(user_id: t.Any) -> str:
    if user_id is None or (isinstance(user_id, str) and not user_id):
        raise ValueError("a user id (the token's 'sub') is needed")
    return str(user_id)


class _Devices:
    """What both strategies' device lists share: the index and the opaque ids."""

    def __init__(self, config: Config) -> None:
        #: The resolved options.
        self.config = config
        self._runtime = runtime_of(config)
        self._index: SessionIndex | None = None

    @property
    def index(self) -> SessionIndex:
        """The records in the store, opened on first use."""
        found = self._index
        if found is None:
            found = self._index = SessionIndex(self._runtime.store)
        return found

    def opaque(self, value: str) -> str:
        """The opaque id of a session named by ``value`` (keyed with the oldest secret, the
        one a rotation keeps longest)."""
        return opaque_id(self.config.current_secrets()[-1], value)

    def _ttl(self) -> float:
        """How long a record outlives its last write: a session not seen for longer is over."""
        return float(self.config.session_max_age + self.config.update_age)

    def forget_user(self, user_id: t.Any) -> None:
        """Drop every record of ``user_id`` (their sessions were all ended).

        :raises BackendUnavailableError: the store cannot be reached.
        """
        self.index.clear(_user_id(user_id))


class JwtDevices(_Devices):
    """The sessions of users on the JWT strategy, recorded by ``sid``."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        # sid -> when this worker writes its record again at the earliest
        self._due: dict[str, float] = {}

    def _write(self, environ: WSGIEnvironment | None, claims: t.Mapping[str, t.Any], now: float) -> None:
        sub, sid = user_of(claims), claims.get(SESSION_ID)
        if not (sub and isinstance(sid, str) and sid):
            return
        signed_in = claims.get(AUTH_TIME)
        expires = now + self._ttl()
        if self.config.max_lifetime is not None and is_timestamp(signed_in):
            expires = min(expires, float(signed_in) + self.config.max_lifetime)
        if expires <= now:
            return
        record = {
            "sid": sid,
            "signed_in": signed_in if is_timestamp(signed_in) else None,
            "last_seen": round(now, 3),
            "user_agent": _user_agent(environ),
            "expires": round(expires, 3),
        }
        self._remember(sid, now)
        self.index.put(sub, self.opaque(sid), record, expires - now)

    def _remember(self, sid: str, now: float) -> None:
        if len(self._due) >= SEEN_MEMORY:
            self._due.clear()
        self._due[sid] = now + self.config.update_age

    def signed_in(self, environ: WSGIEnvironment, claims: t.Mapping[str, t.Any]) -> None:
        """Record the session a sign-in just started (best effort: a store failure is logged)."""
        try:
            self._write(environ, claims, _clock.now())
        except BackendUnavailableError as exc:
            logger.warning("recording the new session failed (%s); it is recorded when next seen", exc)

    def seen(self, environ: WSGIEnvironment, claims: t.Mapping[str, t.Any]) -> None:
        """A request of the session of ``claims``: its "last seen" is written when this worker
        has not written it for ``session.update_age`` (best effort)."""
        sid = claims.get(SESSION_ID)
        if not isinstance(sid, str):
            return
        now = _clock.now()
        if now < self._due.get(sid, 0.0):
            return
        try:
            self._write(environ, claims, now)
        except BackendUnavailableError as exc:
            self._remember(sid, now)  # not again on every request while the store is down
            logger.warning("recording when a session was last seen failed: %s", exc)

    def signed_out(self, claims: t.Mapping[str, t.Any] | None) -> None:
        """Drop the record of a session signed out in its browser (best effort)."""
        if not claims:
            return
        sub, sid = user_of(claims), claims.get(SESSION_ID)
        if sub and isinstance(sid, str) and sid:
            self._due.pop(sid, None)
            try:
                self.index.remove(sub, self.opaque(sid))
            except BackendUnavailableError as exc:
                logger.warning("dropping the signed-out session's record failed: %s", exc)

    def current(self, environ: WSGIEnvironment) -> Claims | None:
        """The claims of the request's session (before a sign-in replaces it), else ``None``."""
        strategy = self._runtime.sessions
        try:
            return t.cast("Claims | None", strategy.token(environ)) if strategy is not None else None
        except BackendUnavailableError:
            return None

    def replace(self, previous: Claims | None) -> None:
        """End the session a new sign-in replaced in its browser: its ``sid`` is revoked and
        its record dropped (best effort: a store failure is logged)."""
        if not previous or not isinstance(previous.get(SESSION_ID), str):
            return
        try:
            self._runtime.revocations.revoke_session(previous)
        except BackendUnavailableError as exc:
            logger.warning("ending the session a new sign-in replaced failed: %s", exc)
            return
        self.signed_out(previous)

    def sign_in_time(self, environ: WSGIEnvironment, token: t.Mapping[str, t.Any] | None) -> float | None:
        """When the request's session signed in: its token's ``auth_time``, or its
        ``idp_auth_time`` when earlier (``None``: unknown)."""
        return authenticated_time(token or {})

    def list(self, user_id: t.Any, environ: WSGIEnvironment | None = None) -> list[SessionEntry]:
        """The live sessions of ``user_id``, the most recently seen first; revoked ones (one by
        one or the whole user) are left out.

        :param environ: the request asking, to mark its own session ``current``.
        :raises BackendUnavailableError: the store cannot be reached.
        """
        user = _user_id(user_id)
        records = self.index.all(user)
        revocations = self._runtime.revocations
        claims = {
            sid: {"sub": user, SESSION_ID: rec.get("sid"), AUTH_TIME: rec.get("signed_in")}
            for sid, rec in records.items()
            if isinstance(rec.get("sid"), str)
        }
        keys = {sid: revocations.keys_for(c) for sid, c in claims.items()}
        flat = sorted({key for k in keys.values() for key in k})
        values = dict(zip(flat, revocations.store.get_many(flat), strict=True)) if flat else {}
        revoked = [
            sid for sid, k in keys.items() if revocations.decide(claims[sid], k, [values[key] for key in k])
        ]
        if revoked:
            self.index.remove(user, *revoked)
        current = None
        if environ is not None:
            token = self.current(environ)
            if token is not None and user_of(token) == user and isinstance(token.get(SESSION_ID), str):
                current = self.opaque(token[SESSION_ID])
        entries = [
            {
                "id": sid,
                "signed_in_at": _when(rec.get("signed_in")),
                "last_seen_at": _when(rec.get("last_seen")),
                "user_agent": rec.get("user_agent"),
                "current": sid == current,
            }
            for sid, rec in records.items()
            if sid in claims and sid not in revoked
        ]
        return _newest_first(entries)

    def end(self, user_id: t.Any, session_id: str) -> bool:
        """End the session ``session_id`` (an ``id`` of :meth:`list`) of ``user_id``: its
        ``sid`` is revoked on every worker sharing the store.

        :returns: whether there was such a session.
        :raises BackendUnavailableError: the store cannot be reached.
        """
        user = _user_id(user_id)
        if not isinstance(session_id, str) or not session_id:
            return False
        record = self.index.get(user, session_id)
        if record is None or not isinstance(record.get("sid"), str):
            return False
        self._runtime.revocations.revoke_session({SESSION_ID: record["sid"]})
        self.index.remove(user, session_id)
        self._due.pop(record["sid"], None)
        return True


class DatabaseDevices(_Devices):
    """The sessions of users on the database strategy: the adapter's rows, with a record each
    for what the rows do not hold (sign-in time, user agent)."""

    def signed_in(
        self, environ: WSGIEnvironment, user_id: t.Any, token: str, authenticated_at: float | None = None
    ) -> None:
        """Record the session row a sign-in just created (best effort).

        :param authenticated_at: when the identity provider authenticated the user, when the
            sign-in says: kept (at most now) for :meth:`sign_in_time`.
        """
        times = sign_in_times(authenticated_at)
        record: dict[str, t.Any] = {"signed_in": times.pop(AUTH_TIME), "user_agent": _user_agent(environ)}
        record.update(times)  # idp_auth_time, when the sign-in said
        try:
            self.index.put(_user_id(user_id), self.opaque(token), record, self._ttl())
        except BackendUnavailableError as exc:
            logger.warning("recording the new session failed: %s", exc)

    def extended(self, user_id: t.Any) -> None:
        """A session row of ``user_id`` was extended: its record lives as long (best effort)."""
        try:
            self.index.extend(_user_id(user_id), self._ttl())
        except (BackendUnavailableError, ValueError) as exc:
            logger.warning("extending the session's record failed: %s", exc)

    def signed_out(self, user_id: t.Any, token: str) -> None:
        """Drop the record of a session row that was deleted (best effort)."""
        try:
            self.index.remove(_user_id(user_id), self.opaque(token))
        except (BackendUnavailableError, ValueError) as exc:
            logger.warning("dropping the signed-out session's record failed: %s", exc)

    def current(self, environ: WSGIEnvironment) -> str | None:
        """The session token of the request's cookie (before a sign-in replaces it)."""
        token = session_token(environ, self.config)
        return token if token is not None and plausible_token(token) else None

    def replace(self, previous: str | None) -> None:
        """Delete the session row a new sign-in replaced in its browser (best effort)."""
        if previous is None:
            return
        try:
            deleted = call_adapter(self.config, "delete_session", previous)
        except BackendUnavailableError as exc:
            logger.warning("ending the session a new sign-in replaced failed: %s", exc)
            return
        if isinstance(deleted, t.Mapping) and deleted.get("userId") is not None:
            self.signed_out(deleted["userId"], previous)

    def sign_in_time(self, environ: WSGIEnvironment, token: t.Mapping[str, t.Any] | None) -> float | None:
        """When the request's session signed in, from its record: its start, or when the identity
        provider authenticated the user if earlier (``None``: unknown, such as a session made by
        next-auth).

        :raises BackendUnavailableError: the store cannot be reached.
        """
        cookie = self.current(environ)
        sub = user_of(token or {})
        if cookie is None or sub is None:
            return None
        record = self.index.get(sub, self.opaque(cookie))
        if record is None:
            return None
        started = {AUTH_TIME: record.get("signed_in")}
        if IDP_AUTH_TIME in record:
            started[IDP_AUTH_TIME] = record[IDP_AUTH_TIME]
        return authenticated_time(started)

    def _rows(self, user: str) -> list[t.Mapping[str, t.Any]]:
        adapter_method(self.config, "list_user_sessions")  # ConfigurationError when absent
        rows = call_adapter(self.config, "list_user_sessions", user)
        return [
            row
            for row in rows or ()
            if isinstance(row, t.Mapping) and isinstance(row.get("sessionToken"), str)
        ]

    def list(self, user_id: t.Any, environ: WSGIEnvironment | None = None) -> list[SessionEntry]:
        """The user's session rows that have not expired, the most recently seen first.

        :raises ConfigurationError: the adapter has no ``list_user_sessions``.
        :raises BackendUnavailableError: the database or the store cannot be reached.
        """
        user = _user_id(user_id)
        now = _clock.now()
        records = self.index.all(user)
        current = self.current(environ) if environ is not None else None
        entries: list[SessionEntry] = []
        listed: set[str] = set()
        for row in self._rows(user):
            expires = timestamp_of(row["expires"])
            if expires <= now:
                continue
            session_id = self.opaque(row["sessionToken"])
            listed.add(session_id)
            record = records.get(session_id, {})
            signed_in = record.get("signed_in")
            last_seen = expires - self.config.session_max_age
            if is_timestamp(signed_in):
                last_seen = max(last_seen, float(signed_in))
            entries.append(
                {
                    "id": session_id,
                    "signed_in_at": _when(signed_in),
                    "last_seen_at": _when(last_seen),
                    "user_agent": record.get("user_agent"),
                    "current": current is not None and hmac.compare_digest(current, row["sessionToken"]),
                }
            )
        orphans = [session_id for session_id in records if session_id not in listed]
        if orphans:
            self.index.remove(user, *orphans)
        return _newest_first(entries)

    def end(self, user_id: t.Any, session_id: str) -> bool:
        """Delete the session row ``session_id`` (an ``id`` of :meth:`list`) of ``user_id``.

        :returns: whether there was such a session.
        :raises ConfigurationError: the adapter has no ``list_user_sessions``.
        :raises BackendUnavailableError: the database or the store cannot be reached.
        """
        user = _user_id(user_id)
        if not isinstance(session_id, str) or not session_id:
            return False
        for row in self._rows(user):
            token = row["sessionToken"]
            if hmac.compare_digest(self.opaque(token), session_id):
                deleted = call_adapter(self.config, "delete_session", token)
                self.index.remove(user, session_id)
                return deleted is not None
        return False


def _newest_first(entries: list[SessionEntry]) -> list[SessionEntry]:
    oldest = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return sorted(entries, key=lambda e: e["last_seen_at"] or oldest, reverse=True)


SessionDevices = JwtDevices | DatabaseDevices

__all__ = ["DatabaseDevices", "JwtDevices", "SessionDevices", "SessionEntry"]
