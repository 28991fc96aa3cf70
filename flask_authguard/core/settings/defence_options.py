"""The defence options (issue 14), checked at start-up: cross-site protection, trusted
origins, the store, sign-in throttling and the absolute session lifetime.

:class:`ThrottleOptions` is the ``throttle`` group of :class:`~flask_authguard.AuthOptions`;
:func:`resolve_defences` turns the user's values into the matching fields of
:class:`~flask_authguard.core.settings.config.Config`, raising
:class:`~flask_authguard.ConfigurationError` naming the key and what to set, as
:mod:`.validation` does for the other options.
"""

from __future__ import annotations

import dataclasses
import math
import typing as t

from ..errors import ConfigurationError
from . import validation
from .checks import check_limits, check_store, normalize_origins


@dataclasses.dataclass
class ThrottleOptions:
    """``throttle``: limits on sign-in attempts (credentials and email), in the ``limits``
    library's notation (``"5/minute"``, several joined with ``;``)."""

    #: Throttle at all (on by default).
    enabled: bool = True
    #: Attempts at one identifier (the username or email submitted) from one client address; a
    #: success resets it. Another address has its own count: one address cannot lock the
    #: account's owner out.
    per_identifier: str = "10/minute;50/hour"
    #: Attempts at one identifier from all addresses together: ``None`` is
    #: :data:`GLOBAL_FACTOR` times ``per_identifier``, window by window. It must allow more than
    #: one address can make under ``per_identifier``, or one address could use it up.
    per_identifier_global: str | None = None
    #: Attempts per client address (``REMOTE_ADDR``: use ``ProxyFix`` behind a proxy).
    per_address: str = "30/minute;300/hour"


#: ``throttle.per_identifier_global`` by default: this many times ``throttle.per_identifier``.
GLOBAL_FACTOR = 5


def per_identifier_global(value: t.Any, per_identifier: str) -> str:
    """``throttle.per_identifier_global``: the limit given, or :data:`GLOBAL_FACTOR` times the
    checked ``per_identifier``.

    :raises ConfigurationError: it does not parse, or one address could reach it: in one of its
        windows ``per_identifier`` lets an address make as many attempts as it allows.
    """
    from limits import parse_many

    pair = parse_many(per_identifier)
    if value is None:
        return ";".join(
            f"{item.amount * GLOBAL_FACTOR} per {item.multiples} {item.GRANULARITY.name}" for item in pair
        )
    text = check_limits(value, "throttle.per_identifier_global")
    for item in parse_many(text):
        window = item.get_expiry()
        # In any stretch of `window` seconds a moving-window limit of n per w seconds lets
        # through at most n * ceil(window / w) attempts.
        most = min(p.amount * math.ceil(window / p.get_expiry()) for p in pair)
        if item.amount <= most:
            raise ConfigurationError(
                f"throttle.per_identifier_global allows {item}, but one address may make {most} "
                f"attempts in that time under throttle.per_identifier ({per_identifier!r}), so one "
                "address could lock the account out: set it higher, or leave it unset "
                f"({GLOBAL_FACTOR} times throttle.per_identifier)"
            )
    return text


def store_prefix(value: t.Any) -> str | None:
    """``store_prefix``: ``None`` (derived from the secret, :func:`~flask_authguard.core.defences.store.
    default_prefixes`) or a non-empty printable string without spaces (it starts every key)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value or not value.isprintable() or " " in value:
        raise ConfigurationError(f"store_prefix must be a non-empty string without spaces, not {value!r}")
    return value


def max_lifetime(value: t.Any, strategy: str) -> int | None:
    """``session.max_lifetime``: ``None`` or whole seconds, JWT sessions only."""
    if value is None:
        return None
    seconds = validation.seconds(value, "session.max_lifetime")
    if strategy == "database":
        raise ConfigurationError(
            "session.max_lifetime applies to JWT sessions (the sign-in time travels in the "
            "token); database sessions end when their row expires or is deleted"
        )
    return seconds


def resolve_defences(opts: t.Any, session: t.Any, strategy: str) -> dict[str, t.Any]:
    """The :class:`~flask_authguard.core.settings.config.Config` fields of the defences, from the
    coerced :class:`~flask_authguard.AuthOptions` ``opts`` and its ``session`` group.

    :raises ConfigurationError: a value is invalid; the message names it and what to set.
    """
    throttle = t.cast(ThrottleOptions, opts.throttle)
    enabled = validation.flag(throttle.enabled, "throttle.enabled")
    per_identifier = check_limits(throttle.per_identifier, "throttle.per_identifier") if enabled else None
    return {
        "max_lifetime": max_lifetime(session.max_lifetime, strategy),
        "cross_site_protection": validation.flag(opts.cross_site_protection, "cross_site_protection"),
        "trusted_origins": normalize_origins(opts.trusted_origins),
        "store": check_store(opts.store),
        "store_prefix": store_prefix(opts.store_prefix),
        "store_cache": validation.flag(opts.store_cache, "store_cache"),
        "throttle_identifier": per_identifier,
        "throttle_identifier_global": (
            per_identifier_global(throttle.per_identifier_global, per_identifier) if per_identifier else None
        ),
        "throttle_address": check_limits(throttle.per_address, "throttle.per_address") if enabled else None,
    }
