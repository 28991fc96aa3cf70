"""The accounts row's tokens, for provider token refresh with database sessions (``refresh=True``
on a provider): a user's account with a provider, and its tokens written back after a refresh
or a new sign-in. Neither method is part of next-auth's adapter (its recipe writes the row with
the database client); both are optional for adapters that serve no refreshing provider.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from . import ACCOUNT_TOKEN_FIELDS, AdapterAccount
from .records import account_record, usable
from .rows import Rows


class AccountTokens(Rows):
    """``get_user_account`` and ``update_account`` (a base of
    :class:`~flask_authguard.adapters.sqlalchemy.SQLAlchemyAdapter`), on every layout."""

    def get_user_account(self, user_id: str, provider: str) -> AdapterAccount | None:
        """The account the user ``user_id`` has with ``provider`` (the first, should there be
        several), or ``None``.

        .. versionadded:: 0.1
        """
        key = self._id(user_id)
        if key is None or not usable(provider):
            return None
        accounts = self.tables.accounts
        query = (
            sa.select(*self._account_columns())
            .where(accounts.c.userId == key, accounts.c.provider == provider)
            .order_by(accounts.c.providerAccountId)
            .limit(1)
        )
        row = self._first("get_user_account", query)
        return None if row is None else account_record(row)

    def update_account(self, account: t.Mapping[str, t.Any]) -> AdapterAccount | None:
        """Set the token fields given (``access_token``, ``refresh_token``, ``expires_at``,
        ``id_token``...) of the account ``{"provider", "providerAccountId"}``; the updated
        record, or ``None`` when there is no such account.

        .. versionadded:: 0.1
        """
        provider, account_id = account.get("provider"), account.get("providerAccountId")
        if not usable(provider) or not usable(account_id):
            return None
        changes = {name: account[name] for name in ACCOUNT_TOKEN_FIELDS if name in account}
        if changes.get("expires_at") is not None:
            changes["expires_at"] = int(changes["expires_at"])
        accounts = self._shaped().accounts
        where = sa.and_(accounts.c.provider == provider, accounts.c.providerAccountId == str(account_id))
        with self._transaction("update_account") as conn:
            if changes:
                conn.execute(sa.update(accounts).where(where).values(**self._stamped(accounts, changes)))
            row = conn.execute(sa.select(*self._account_columns()).where(where)).first()
        return None if row is None else account_record(row)
