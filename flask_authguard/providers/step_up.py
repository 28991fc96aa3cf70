"""What a step-up sign-in asks of the identity provider: OpenID Connect's ``max_age`` and ``prompt``.

A view with ``max_age`` (:mod:`flask_authguard.guard.step_up`) sends an old sign-in to the sign-in
page with ``max_age``; the page starts each provider's sign-in at ``POST /signin/<id>?max_age=300``,
the way next-auth's ``signIn(id, options, authorizationParams)`` passes authorization parameters.
An OpenID Connect provider's authorization request then carries ``max_age`` and ``prompt=login``:
the provider asks the user to authenticate again instead of signing them in from its own session
(OpenID Connect Core 3.1.2.1). Other providers get nothing: plain OAuth has no such parameters.

Whatever the sign-in asked, an OpenID Connect sign-in keeps the ID token's ``auth_time`` for the
session (:func:`authenticated_at`): a view with ``max_age`` measures the sign-in from the moment
the provider last authenticated the user, so a sign-in started without ``max_age``, which the
provider may answer from its own day-old session, is no recent sign-in.
"""

from __future__ import annotations

import typing as t

from ..core.defences.revocation import UNKNOWN_AUTH_TIME
from ..core.tokens.claims import is_timestamp

#: The ``prompt`` values a sign-in start may ask for (OpenID Connect Core 3.1.2.1).
PROMPTS = frozenset({"login", "consent", "select_account"})


def requested_max_age(args: t.Mapping[str, str]) -> int | None:
    """The ``max_age`` a request asks for: whole seconds (at most nine digits), else ``None``."""
    value = args.get("max_age")
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 9:
        return None
    return int(value)


def step_up_params(provider_type: str, args: t.Mapping[str, str]) -> dict[str, str]:
    """The authorization parameters a sign-in start's query asks of a ``provider_type`` provider:
    for ``"oidc"``, ``max_age`` and ``prompt`` (``login`` whenever ``max_age`` is given)."""
    if provider_type != "oidc":
        return {}
    params: dict[str, str] = {}
    max_age = requested_max_age(args)
    if max_age is not None:
        params["max_age"] = str(max_age)
        params["prompt"] = "login"
    elif args.get("prompt") in PROMPTS:
        params["prompt"] = str(args["prompt"])
    return params


def step_up_claims(params: t.Mapping[str, str]) -> dict[str, t.Any] | None:
    """What a check cookie keeps of a step-up sign-in's ``params`` for the callback: its
    ``max_age`` (``None``: nothing to keep). The provider's first check of ``state``, ``pkce``,
    ``nonce`` carries it (every provider has one), so ``auth_time`` is checked whichever checks it
    uses."""
    return {"max_age": int(params["max_age"])} if "max_age" in params else None


def step_up_checked(kept: t.Mapping[str, t.Any]) -> dict[str, str]:
    """The ``max_age`` a check cookie kept (:func:`step_up_claims`), for ``checked``."""
    max_age = kept.get("max_age")
    if isinstance(max_age, int) and not isinstance(max_age, bool) and max_age >= 0:
        return {"max_age": str(max_age)}
    return {}


def check_auth_time(claims: t.Mapping[str, t.Any], max_age: str | None, now: float, leeway: float) -> None:
    """OpenID Connect Core 3.1.2.1 and 3.1.3.7: an ID token answering a request with ``max_age``
    must carry ``auth_time``, and the user must have authenticated within ``max_age`` (plus
    ``leeway`` for clock skew): else the provider did not ask again.

    :raises ValueError: it did not.
    """
    if max_age is None:
        return
    auth_time = claims.get("auth_time")
    if not is_timestamp(auth_time):  # NaN or Infinity would compare as recent
        raise ValueError("the ID token has no auth_time, though max_age was asked for")
    if now - auth_time > int(max_age) + leeway:
        raise ValueError("the ID token's auth_time is older than the max_age asked for")


def authenticated_at(claims: t.Mapping[str, t.Any], now: float) -> float:
    """When the provider last authenticated the user, by a verified ID token's ``claims``: its
    ``auth_time``, at most ``now`` (a provider clock ahead of ours makes no sign-in younger than
    it is).

    An ID token without ``auth_time`` (or with one that is no moment: a string, NaN, a negative
    or absurdly large number) gives
    :data:`~flask_authguard.core.defences.revocation.UNKNOWN_AUTH_TIME`: the provider did not
    say, and it may have signed the user in from a session of its own days old, so a view with
    ``max_age`` asks for a step-up sign-in, where ``auth_time`` is required
    (:func:`check_auth_time`).
    """
    auth_time = claims.get("auth_time")
    if not is_timestamp(auth_time):
        return UNKNOWN_AUTH_TIME
    return min(float(auth_time), now)


__all__ = [
    "PROMPTS",
    "authenticated_at",
    "check_auth_time",
    "requested_max_age",
    "step_up_checked",
    "step_up_claims",
    "step_up_params",
]
