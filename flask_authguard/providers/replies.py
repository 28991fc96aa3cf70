"""Reading what an identity provider replies: JSON over the provider's session
(:func:`get_json`), the token answer's expiry (:func:`token_expiry`), ``email_verified``
(:func:`email_verified`), and :class:`ExchangeFailed` for an answer that cannot be used, with
:func:`describe` saying what failed without a token or secret in the log."""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

from ..core.tokens.claims import kept_expiry

__all__ = ["ExchangeFailed", "describe", "email_verified", "get_json", "token_expiry"]


class ExchangeFailed(Exception):
    """The identity provider's answer cannot be used (its text is never logged in full)."""


def get_json(session: t.Any, url: str, timeout: float, *, with_token: bool = True) -> t.Any:
    """GET ``url`` (with the session's token unless ``with_token`` is false); the JSON answer.

    :raises ExchangeFailed: not a 2xx JSON answer.
    """
    try:
        response = session.get(
            url, timeout=timeout, headers={"Accept": "application/json"}, withhold_token=not with_token
        )
    except Exception as exc:
        raise ExchangeFailed(f"GET {_origin(url)} failed: {describe(exc)}") from None
    if not 200 <= response.status_code < 300:
        raise ExchangeFailed(f"GET {_origin(url)} answered {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise ExchangeFailed(f"GET {_origin(url)} answered no JSON") from None


def email_verified(claim: t.Any) -> bool:
    """An ``email_verified`` claim that says yes: ``true`` (or the string ``"true"``, which
    some userinfo endpoints, Amazon Cognito's, send)."""
    return claim is True or claim == "true"


def token_expiry(value: t.Any) -> int:
    """A token answer's ``expires_at`` as whole seconds since the epoch, kept within bounds
    (:func:`~flask_authguard.core.tokens.claims.kept_expiry`, as the refresh grant keeps it) so
    that no later expiry check overflows and a JavaScript reader of the account still gets an
    integer. Authlib has already turned a numeric ``expires_at`` (an integer in a string, a
    float) into an integer, or computed it from ``expires_in``; an ``expires_in`` its ``int()``
    cannot convert has failed the exchange before this (a refresh reads such an answer itself:
    :mod:`~flask_authguard.providers.refresh`), and what else it could not convert is left here.

    :raises ExchangeFailed: not a finite number.
    """
    kept = kept_expiry(expires_at=value)
    if kept is None:
        raise ExchangeFailed("the token endpoint answered an expires_at that is not a number")
    return kept


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def describe(exc: BaseException) -> str:
    """An exception for the log: its type, and the OAuth ``error`` code when it has one (never a
    token, never a secret). The code is the provider's text: quoted and cut to 64 characters
    (``%.64r``, as the callback's own ``error`` parameter is logged), so no newline or escape
    in it forges a log line, and no megabyte of it fills the log."""
    error = getattr(exc, "error", None)
    return f"{type(exc).__name__}({error!r:.64})" if isinstance(error, str) else type(exc).__name__
