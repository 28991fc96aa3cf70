"""Where a session keeps its provider's tokens, and how a failed refresh shows in the session.

With ``refresh=True`` on an OAuth/OIDC provider a sign-in keeps the provider's
``access_token``, ``refresh_token`` and ``expires_at`` (seconds since the epoch, an integer):

- JWT sessions: in the encrypted session token, under the claim :data:`PROVIDER_TOKENS`, by
  provider id: ``{"provider_tokens": {"keycloak": {"access_token": ..., "refresh_token": ...,
  "expires_at": 1767225600}}}``. A Next.js app that signs users in writes the same claim in its
  ``jwt`` callback (see the manual's "Provider access tokens, refreshed");
- database sessions: in the adapter's accounts row (next-auth's columns), brought up to date at
  every sign-in.

A refresh that failed marks the session until a refresh succeeds or the user signs in again:
the session read (``get_server_session``, ``GET /api/auth/session``) carries
``"error": "RefreshAccessTokenError"`` (the name of the Auth.js recipe). The mark is the token's
``error`` claim on JWT sessions (next-auth's ``session`` callback can copy it: ``session.error =
token.error``), and an entry in the store for that user and provider on database sessions.

Nothing here talks to the provider; :mod:`.refresh` does that.
"""

from __future__ import annotations

import typing as t

from ..core.errors import ConfigurationError
from ..core.runtime import runtime_of
from ..core.settings.config import Config

#: The token claim that holds each provider's tokens (JWT sessions).
PROVIDER_TOKENS = "provider_tokens"
#: The session's (and the JWT's) ``error`` while a refresh has failed.
REFRESH_ERROR = "RefreshAccessTokenError"
#: The fields kept of a provider's token answer.
KEPT_FIELDS = ("access_token", "refresh_token", "expires_at")
#: The adapter methods refresh needs with database sessions.
ADAPTER_METHODS = ("get_user_account", "update_account")


def refreshing_ids(config: Config) -> tuple[str, ...]:
    """The ids of the providers with ``refresh=True``."""
    return tuple(p.id for p in config.options.providers if getattr(p, "refresh", False) is True)


def refreshing_provider(config: Config, provider_id: str) -> t.Any:
    """The provider ``provider_id`` when it has ``refresh=True``.

    :raises ConfigurationError: no such provider in the options.
    """
    for provider in config.options.providers:
        if getattr(provider, "id", None) == provider_id and getattr(provider, "refresh", False) is True:
            return provider
    raise ConfigurationError(
        f"get_access_token({provider_id!r}): the options have no provider with that id and refresh=True"
    )


def sign_in_record(config: Config, account: t.Mapping[str, t.Any]) -> dict[str, t.Any] | None:
    """The tokens a sign-in keeps (:data:`KEPT_FIELDS` of ``account``), or ``None`` when its
    provider has no ``refresh=True`` or gave no access token."""
    if account.get("provider") not in refreshing_ids(config) or not account.get("access_token"):
        return None
    return {name: account[name] for name in KEPT_FIELDS if account.get(name) is not None}


def with_sign_in_tokens(
    config: Config, token: dict[str, t.Any], account: t.Mapping[str, t.Any]
) -> dict[str, t.Any]:
    """A new JWT session's ``token`` with the sign-in's tokens, when its provider refreshes."""
    record = sign_in_record(config, account)
    if record is not None:
        token[PROVIDER_TOKENS] = {str(account["provider"]): record}
    return token


def token_record(token: t.Mapping[str, t.Any] | None, provider_id: str) -> dict[str, t.Any] | None:
    """The tokens a JWT session holds for ``provider_id`` (a dict with a string
    ``access_token``), else ``None``."""
    held = token.get(PROVIDER_TOKENS) if token is not None else None
    record = held.get(provider_id) if isinstance(held, dict) else None
    if not isinstance(record, dict) or not isinstance(record.get("access_token"), str):
        return None
    return record


def check_adapter(config: Config) -> None:
    """Database sessions with a refreshing provider need the adapter's account methods.

    :raises ConfigurationError: the adapter lacks one.
    """
    adapter = config.options.adapter
    if adapter is None or not refreshing_ids(config):
        return
    missing = [name for name in ADAPTER_METHODS if not callable(getattr(adapter, name, None))]
    if missing:
        raise ConfigurationError(
            f"refresh=True with database sessions needs adapter.{'() and adapter.'.join(missing)}() "
            "(SQLAlchemyAdapter has them)"
        )


# -- the mark of a failed refresh, database sessions ---------------------------------------------


def _error_key(prefix: str, provider_id: str, user_id: str) -> str:
    return f"{prefix}rerr:{provider_id}:{user_id}"


def mark_refresh_error(config: Config, provider_id: str, user_id: str, failed: bool) -> None:
    """Set (``failed``) or clear the mark of a failed refresh of a database user's account.

    :raises BackendUnavailableError: the store failed.
    """
    store = runtime_of(config).store
    key = _error_key(store.prefix, provider_id, user_id)
    if failed:
        store.put(key, "1", max(config.session_max_age, 1))
    else:
        store.put(key, "", 1)


def has_refresh_error(config: Config, provider_ids: t.Sequence[str], user_id: str) -> bool:
    """Whether a refresh of one of the user's accounts with ``provider_ids`` failed last.

    :raises BackendUnavailableError: the store failed.
    """
    store = runtime_of(config).store
    keys = [_error_key(store.prefix, provider_id, user_id) for provider_id in provider_ids]
    return any(store.get_many(keys))
