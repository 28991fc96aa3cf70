"""Users and accounts in the adapter for OAuth and email sign-ins, as next-auth links them.

OAuth (``core/lib/callback-handler.js``): an account ``(provider, providerAccountId)`` linked
already signs in as its user. A new account whose email belongs to an existing user is refused
with ``OAuthAccountNotLinked`` (someone else may control that address at this provider) unless
the provider has ``allow_dangerous_email_account_linking``. Otherwise a user is created from the
profile (``emailVerified`` unset), ``events.create_user`` fires, the account is linked with its
tokens and ``events.link_account`` fires; ``is_new_user`` is then true.

Email: the user with the address gets ``emailVerified`` now (``events.update_user``), or a new
user is created with it (``events.create_user``); no account row, as in next-auth.

Without an adapter (JWT strategy) OAuth results pass unchanged: the token's ``sub`` is the
provider's account id.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import typing as t

from ..core import _clock
from ..core._compat import call_sync
from ..core.errors import BackendUnavailableError
from ..core.options import Config
from .base import SignInError, SignInResult

logger = logging.getLogger("flask_authguard")


def fire(config: Config, name: str, **kwargs: t.Any) -> None:
    """``events.<name>(**kwargs)``; its errors are logged, never raised."""
    handler = getattr(config.events, name, None)
    if handler is None:
        return
    try:
        call_sync(handler, **kwargs)
    except Exception:
        logger.exception("events.%s raised", name)


def _call(adapter: t.Any, name: str, *args: t.Any) -> t.Any:
    method = getattr(adapter, name, None)
    if not callable(method):
        raise SignInError("Callback")
    return call_sync(method, *args)


def _create(config: Config, adapter: t.Any, profile: t.Mapping[str, t.Any], code: str) -> dict[str, t.Any]:
    try:
        user = _call(adapter, "create_user", profile)
    except (BackendUnavailableError, SignInError):
        raise
    except Exception as exc:
        logger.error("adapter.create_user failed: %s", type(exc).__name__)
        raise SignInError(code) from None
    user = dict(user)
    fire(config, "create_user", user=user)
    return user


def link_oauth_account(config: Config, provider: t.Any, result: SignInResult) -> SignInResult:
    """The adapter's user for an OAuth result (see the module docstring); ``result`` itself
    without an adapter.

    :raises SignInError: ``OAuthAccountNotLinked``, or ``OAuthCreateAccount`` when the adapter
        refuses to create the user or link the account.
    :raises BackendUnavailableError: the adapter cannot be reached.
    """
    adapter = config.options.adapter
    if adapter is None:
        return result
    account = result.account
    key = {"provider": account["provider"], "providerAccountId": account["providerAccountId"]}
    linked = _call(adapter, "get_user_by_account", key)
    if linked is not None:
        return dataclasses.replace(result, user=dict(linked), is_new_user=False)
    email = result.user.get("email")
    existing = _call(adapter, "get_user_by_email", email) if email else None
    if existing is not None and not getattr(provider, "allow_dangerous_email_account_linking", False):
        logger.info("provider %s: the email belongs to another user: OAuthAccountNotLinked", provider.id)
        raise SignInError("OAuthAccountNotLinked", cookies=result.cookies)
    is_new = existing is None
    if existing is None:
        profile = {
            "name": result.user.get("name"),
            "email": email,
            "emailVerified": None,
            "image": result.user.get("image"),
        }
        user = _create(config, adapter, profile, "OAuthCreateAccount")
    else:
        user = dict(existing)
    try:
        _call(adapter, "link_account", {**account, "userId": user["id"]})
    except (BackendUnavailableError, SignInError):
        raise
    except Exception as exc:
        logger.error("adapter.link_account failed: %s", type(exc).__name__)
        raise SignInError("OAuthCreateAccount", cookies=result.cookies) from None
    fire(config, "link_account", user=user, account=account, profile=result.profile)
    return dataclasses.replace(result, user=user, is_new_user=is_new)


def email_user(config: Config, result: SignInResult) -> SignInResult:
    """The adapter's user for a verified email address (see the module docstring).

    :raises SignInError: ``EmailCreateAccount`` when the adapter refuses to create the user.
    """
    adapter = config.options.adapter
    email = result.user["email"]
    now = dt.datetime.fromtimestamp(_clock.now(), dt.timezone.utc)
    existing = _call(adapter, "get_user_by_email", email)
    if existing is not None:
        try:
            user = dict(_call(adapter, "update_user", {"id": existing["id"], "emailVerified": now}))
        except (BackendUnavailableError, SignInError):
            raise
        except Exception as exc:
            logger.error("adapter.update_user failed: %s", type(exc).__name__)
            raise SignInError("EmailCreateAccount") from None
        fire(config, "update_user", user=user)
        is_new = False
    else:
        user = _create(
            config,
            adapter,
            {"name": None, "email": email, "emailVerified": now, "image": None},
            "EmailCreateAccount",
        )
        is_new = True
    account = {**result.account, "userId": user["id"]}
    return dataclasses.replace(result, user=user, account=account, is_new_user=is_new)
