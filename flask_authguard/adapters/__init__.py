"""Storage for the database session strategy: next-auth's ``Adapter`` in Python.

An adapter keeps users, their provider accounts, sessions and verification tokens. The
records are plain dicts (:class:`~typing.TypedDict`) with next-auth's field names, so rows read
by a Next.js app and by Python are the same thing:

.. code-block:: python

    from flask_authguard import AuthGuard
    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    adapter = SQLAlchemyAdapter("sqlite:///auth.db", create_tables=True)
    guard = AuthGuard(app, {"secret": "...", "adapter": adapter})  # strategy "database"

Any object with the methods of :class:`Adapter` works. Conventions every adapter keeps:

- ids (``id``, ``userId``) are strings in records, as in next-auth;
- times (``expires``, ``emailVerified``) are timezone-aware :class:`~datetime.datetime` in UTC;
- a lookup that finds nothing returns ``None``; it never raises for a missing row;
- optional: ``delete_user_sessions(user_id) -> int`` deletes every session of a user; revoking
  a user (``AuthGuard.revoke_user``, sign out everywhere) with database sessions needs it;
- optional: ``get_user_account(user_id, provider) -> AdapterAccount | None`` and
  ``update_account(account) -> AdapterAccount | None`` (set the token fields given of the account
  ``{"provider", "providerAccountId"}``); provider token refresh (``refresh=True``) with database
  sessions needs them (start-up says so);
- optional, for passkeys (:class:`~flask_authguard.PasskeyProvider`): Auth.js's authenticator
  methods ``create_authenticator``, ``get_authenticator``, ``list_authenticators_by_user_id``,
  ``update_authenticator_counter`` and our ``delete_authenticator``
  (:mod:`~flask_authguard.adapters.authenticators`);
- optional: ``list_user_sessions(user_id) -> list[AdapterSession]`` returns every session of a
  user; listing and ending one session of a user ("your devices": ``AuthGuard.list_sessions``,
  ``end_session``) with database sessions needs it;
- a store that cannot be reached (down, timeout, lost connection) raises
  :class:`~flask_authguard.core.errors.BackendUnavailableError`: the request then gets 503 and
  nobody is signed out.

.. versionadded:: 0.1
"""

from __future__ import annotations

import datetime as dt
import typing as t


class AdapterUser(t.TypedDict):
    """A user (next-auth's ``AdapterUser``)."""

    id: str
    name: str | None
    email: str | None
    emailVerified: dt.datetime | None
    image: str | None


class _AccountKey(t.TypedDict):
    provider: str
    providerAccountId: str


class ProviderAccountKey(_AccountKey):
    """What identifies an account: ``provider`` and ``providerAccountId``."""


class _AccountRequired(_AccountKey):
    userId: str
    type: str


class AdapterAccount(_AccountRequired, total=False):
    """A user's account with one provider (next-auth's ``AdapterAccount``); the OAuth
    token fields are optional."""

    refresh_token: str | None
    access_token: str | None
    #: Seconds since the epoch.
    expires_at: int | None
    id_token: str | None
    scope: str | None
    session_state: str | None
    token_type: str | None


#: The optional fields of :class:`AdapterAccount`, in the order of the default schema.
ACCOUNT_TOKEN_FIELDS = (
    "refresh_token",
    "access_token",
    "expires_at",
    "id_token",
    "scope",
    "session_state",
    "token_type",
)


class AdapterSession(t.TypedDict):
    """A database session (next-auth's ``AdapterSession``); the cookie holds ``sessionToken``."""

    sessionToken: str
    userId: str
    expires: dt.datetime


class SessionAndUser(t.TypedDict):
    """What :meth:`Adapter.get_session_and_user` returns."""

    session: AdapterSession
    user: AdapterUser


class VerificationToken(t.TypedDict):
    """A one-time token (email sign-in links); ``token`` is stored hashed by the caller."""

    identifier: str
    token: str
    expires: dt.datetime


class VerificationTokenKey(t.TypedDict):
    """What identifies a verification token."""

    identifier: str
    token: str


@t.runtime_checkable
class Adapter(t.Protocol):
    """next-auth's adapter methods, in snake_case, taking and returning the records above.

    Methods that take an object in next-auth take a mapping with the same keys here.
    """

    def create_user(self, user: t.Mapping[str, t.Any]) -> AdapterUser:
        """Insert a user from ``name``, ``email``, ``emailVerified``, ``image``; the new record."""
        ...

    def get_user(self, id: str) -> AdapterUser | None:
        """The user with this id."""
        ...

    def get_user_by_email(self, email: str) -> AdapterUser | None:
        """The user with this email address."""
        ...

    def get_user_by_account(self, provider_account: t.Mapping[str, t.Any]) -> AdapterUser | None:
        """The user linked to the account ``{"provider", "providerAccountId"}``."""
        ...

    def update_user(self, user: t.Mapping[str, t.Any]) -> AdapterUser:
        """Change the given fields of the user ``user["id"]``; the updated record.

        :raises LookupError: there is no such user.
        """
        ...

    def delete_user(self, user_id: str) -> AdapterUser | None:
        """Delete a user with its accounts and sessions; the deleted user, if there was one."""
        ...

    def link_account(self, account: t.Mapping[str, t.Any]) -> AdapterAccount:
        """Link a provider account to ``account["userId"]``."""
        ...

    def unlink_account(self, provider_account: t.Mapping[str, t.Any]) -> AdapterAccount | None:
        """Remove the account ``{"provider", "providerAccountId"}``; the removed record."""
        ...

    def create_session(self, session: t.Mapping[str, t.Any]) -> AdapterSession:
        """Insert a session from ``sessionToken``, ``userId``, ``expires``."""
        ...

    def get_session_and_user(self, session_token: str) -> SessionAndUser | None:
        """The session with this token and its user, read together; ``None`` if either is missing."""
        ...

    def update_session(self, session: t.Mapping[str, t.Any]) -> AdapterSession | None:
        """Set the fields given (``expires``) of the session ``session["sessionToken"]``;
        the updated record, or ``None`` when it no longer exists."""
        ...

    def delete_session(self, session_token: str) -> AdapterSession | None:
        """Delete the session with this token; the deleted record, if there was one."""
        ...

    def create_verification_token(self, token: t.Mapping[str, t.Any]) -> VerificationToken:
        """Store ``identifier``, ``token``, ``expires``."""
        ...

    def use_verification_token(self, key: t.Mapping[str, t.Any]) -> VerificationToken | None:
        """Delete and return the token ``{"identifier", "token"}``: only the first caller gets it."""
        ...


__all__ = [
    "ACCOUNT_TOKEN_FIELDS",
    "Adapter",
    "AdapterAccount",
    "AdapterSession",
    "AdapterUser",
    "ProviderAccountKey",
    "SessionAndUser",
    "VerificationToken",
    "VerificationTokenKey",
]
