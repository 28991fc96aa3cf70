"""What a step-up sign-in asks of the identity provider: OpenID Connect's ``max_age`` and ``prompt``.

A view with ``max_age`` (:mod:`flask_authguard.guard.step_up`) sends an old sign-in to the sign-in
page with ``max_age``; the page starts each provider's sign-in at ``POST /signin/<id>?max_age=300``,
the way next-auth's ``signIn(id, options, authorizationParams)`` passes authorization parameters.
An OpenID Connect provider's authorization request then carries ``max_age`` and ``prompt=login``:
the provider asks the user to authenticate again instead of signing them in from its own session
(OpenID Connect Core 3.1.2.1). Other providers get nothing: plain OAuth has no such parameters.
"""

from __future__ import annotations

import typing as t

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


__all__ = ["PROMPTS", "requested_max_age", "step_up_params"]
