"""Which database user a sign-in belongs to: next-auth's account model and its linking rule.

A provider identity is an *account* ``(provider, providerAccountId)`` linked to one user:

1. the account is linked already: its user signs in;
2. else a user with the same ``email`` exists: the sign-in is refused with
   ``OAuthAccountNotLinked`` (someone who controls another provider's account with that email
   must not take the user over), unless the provider sets
   ``allow_dangerous_email_account_linking=True`` (then the account is linked to that user);
3. else a new user is created from ``name``, ``email``, ``image`` and the account linked.

A credentials sign-in (``account["type"] == "credentials"``) is not a third-party account: the
app's own ``authorize`` is the authority, and the user it returns is the user. It signs in as

1. the adapter's user with the returned ``id`` (``adapter.get_user(id)``), when there is one;
2. else the user a previous sign-in linked to that ``id`` (the ``credentials`` account row of
   rule 3, so a user without an email is found again);
3. else the user with the returned ``email``;
4. else a new user, with the ``credentials`` account ``(provider id, returned id)`` linked to it
   when there is an id.

No linking rule applies (``allow_dangerous_email_account_linking`` changes nothing here).

An email (magic link) sign-in (``account["type"] == "email"``) has no account row either, as in
next-auth: the user with the address gets ``emailVerified`` now (``events.update_user``), or a
new user is created with it (``events.create_user``).

An adapter that refuses to create the user or link the account while the database still
answers refuses the sign-in with next-auth's code (``OAuthCreateAccount`` for OAuth/OIDC,
``EmailCreateAccount`` for email); a database that cannot be reached raises
:class:`~flask_authguard.core.errors.BackendUnavailableError` (503, nobody signed out).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import typing as t

from ..core import _clock
from ..core._compat import call_sync
from ..core.errors import BackendUnavailableError, ConfigurationError, SignInError
from ..core.settings.config import Config
from .adapter_calls import adapter_method, call_adapter
from .base import fire_event

if t.TYPE_CHECKING:
    from ..adapters import AdapterUser

logger = logging.getLogger("flask_authguard")

#: The error code next-auth gives a sign-in whose email belongs to another provider's user.
ACCOUNT_NOT_LINKED = "OAuthAccountNotLinked"
#: next-auth's code when the adapter refuses to store the user or account, by account type.
CREATE_REFUSED = {"oauth": "OAuthCreateAccount", "oidc": "OAuthCreateAccount", "email": "EmailCreateAccount"}
_RELINK_CHECKS, _RELINK_WAIT = 5, 0.05


def _text(value: t.Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _raw(config: Config, name: str, *args: t.Any) -> t.Any:
    """``adapter.<name>(*args)`` whose plain failure is the caller's to interpret (a
    concurrent sign-in got there first); a :class:`BackendUnavailableError` still propagates."""
    return call_sync(adapter_method(config, name), *args)


def _refused(refused: str | None, what: str, exc: Exception) -> Exception:
    """The adapter failed although the database answered the check after it: next-auth's
    refusal code when the account type has one, else a backend failure (503)."""
    if refused is None:
        return BackendUnavailableError(f"adapter.{what} failed: {type(exc).__name__}: {exc}")
    logger.error("adapter.%s refused the sign-in: %s", what, type(exc).__name__)
    return SignInError(refused)


def _create_user(
    config: Config,
    user: t.Mapping[str, t.Any],
    email: str | None,
    refused: str | None,
    email_verified: dt.datetime | None = None,
) -> AdapterUser:
    profile = {
        "name": _text(user.get("name")),
        "email": email,
        "emailVerified": email_verified,
        "image": _text(user.get("image")),
    }
    try:
        created = t.cast("AdapterUser", _raw(config, "create_user", profile))
    except BackendUnavailableError:
        raise
    except Exception as exc:  # most likely a concurrent first sign-in created the user first
        found = call_adapter(config, "get_user_by_email", email) if email is not None else None
        if found is None:
            raise _refused(refused, "create_user", exc) from exc
        return t.cast("AdapterUser", found)
    fire_event(config, "create_user", user=created)
    return created


def _link(
    config: Config,
    found: AdapterUser,
    account: dict[str, t.Any],
    profile: t.Mapping[str, t.Any] | None,
    refused: str | None,
) -> AdapterUser:
    key = {"provider": account["provider"], "providerAccountId": account["providerAccountId"]}
    try:
        _raw(config, "link_account", {**account, "userId": found["id"]})
    except BackendUnavailableError:
        raise
    except Exception as exc:  # linked by a concurrent sign-in: take the user it linked
        linked = call_adapter(config, "get_user_by_account", key)
        if linked is None:
            raise _refused(refused, "link_account", exc) from exc
        return t.cast("AdapterUser", linked)
    fire_event(config, "link_account", user=found, account=account, profile=profile)
    return found


def _linked_meanwhile(config: Config, key: dict[str, t.Any]) -> AdapterUser | None:
    """The account's user when a concurrent first sign-in of the same account links it within
    a moment (it creates the user, then links: in between, its email is already taken).
    Only asked on the way to a refusal, so it costs nothing otherwise."""
    for _ in range(_RELINK_CHECKS):
        time.sleep(_RELINK_WAIT)
        linked = call_adapter(config, "get_user_by_account", key)
        if linked is not None:
            return t.cast("AdapterUser", linked)
    return None


def resolve_user(
    config: Config,
    user: t.Mapping[str, t.Any],
    account: t.Mapping[str, t.Any],
    *,
    profile: t.Mapping[str, t.Any] | None = None,
    allow_email_linking: bool = False,
) -> tuple[AdapterUser, bool]:
    """The database user of a sign-in, and whether it was just created (see the module text).

    An OAuth/OIDC provider's ``user["id"]`` is never taken for a database id (ids of another
    service and of the ``users`` table may collide); a credentials ``authorize`` is the app's
    own, and its ``id`` is (see the module text). The stored profile is kept as it is (change
    it with ``adapter.update_user``). Concurrent first sign-ins of one user end with one user.

    :param account: the provider's account: ``provider``, ``type``, ``providerAccountId``
        (default: the user's id) and any OAuth token fields, stored as they are; ``type``
        ``"email"`` follows the email rule (no account row).
    :raises SignInError: ``OAuthAccountNotLinked``, see rule 2 (never for credentials);
        ``OAuthCreateAccount`` or ``EmailCreateAccount``: the adapter refused to store the user
        or account.
    :raises ConfigurationError: the user has neither an id nor an ``email``.
    :raises BackendUnavailableError: the adapter failed.
    """
    refused = CREATE_REFUSED.get(str(account.get("type")))
    if account.get("type") == "email":
        return _email_user(config, user, refused)
    account_id = _text(account.get("providerAccountId")) or _text(user.get("id"))
    email = _text(user.get("email"))
    if account_id is None and email is None:
        raise ConfigurationError(
            "with database sessions, a sign-in needs a user with an 'id' or an 'email' "
            "(return one from authorize() or the provider's profile())"
        )
    credentials = account.get("type") == "credentials"
    if credentials and account_id is not None:
        # the app's authorize() vouches for the user: its id names the adapter's user when it has one
        own = call_adapter(config, "get_user", account_id)
        if own is not None:
            return t.cast("AdapterUser", own), False
    if account_id is None:
        found = call_adapter(config, "get_user_by_email", email)
        if found is not None:
            return t.cast("AdapterUser", found), False
        return _create_user(config, user, email, refused), True
    linked_account = {**account, "providerAccountId": account_id}
    key = {"provider": linked_account["provider"], "providerAccountId": account_id}
    linked = call_adapter(config, "get_user_by_account", key)
    if linked is not None:
        return t.cast("AdapterUser", linked), False
    found = call_adapter(config, "get_user_by_email", email) if email is not None else None
    if found is not None and credentials:
        return t.cast("AdapterUser", found), False
    if found is not None and not allow_email_linking:
        linked = _linked_meanwhile(config, key)
        if linked is None:
            raise SignInError(ACCOUNT_NOT_LINKED)
        return linked, False
    is_new = found is None
    if found is None:
        found = _create_user(config, user, email, refused)
    return _link(config, t.cast("AdapterUser", found), linked_account, profile, refused), is_new


def _email_user(config: Config, user: t.Mapping[str, t.Any], refused: str | None) -> tuple[AdapterUser, bool]:
    """next-auth's email rule: the user with the address, ``emailVerified`` set now
    (``events.update_user``), or a new user with it (``events.create_user``)."""
    email = _text(user.get("email"))
    if email is None:
        raise ConfigurationError("an email sign-in needs the user's 'email'")
    now = dt.datetime.fromtimestamp(_clock.now(), dt.timezone.utc)
    found = call_adapter(config, "get_user_by_email", email)
    if found is None:
        return _create_user(config, {}, email, refused, email_verified=now), True
    try:
        updated = _raw(config, "update_user", {"id": found["id"], "emailVerified": now})
    except BackendUnavailableError:
        raise
    except Exception as exc:
        call_adapter(config, "get_user", found["id"])  # it answers: the adapter refused the update
        raise _refused(refused, "update_user", exc) from exc
    verified = t.cast("AdapterUser", dict(updated or found))
    fire_event(config, "update_user", user=verified)
    return verified, False
