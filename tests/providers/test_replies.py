"""Reading identity providers' answers (:mod:`flask_authguard.providers.replies`); ``get_json``
against a real provider is exercised by the OAuth and OIDC suites."""

from __future__ import annotations

import typing as t

import pytest

from flask_authguard.core.tokens.claims import LATEST_EXPIRY
from flask_authguard.providers.replies import ExchangeFailed, describe, email_verified, token_expiry


@pytest.mark.parametrize(
    ("value", "kept"),
    [(1_700_000_000, 1_700_000_000), (1_700_000_000.9, 1_700_000_000), (10**30, LATEST_EXPIRY), (-5, 0)],
)
def test_token_expiry_keeps_whole_seconds_within_bounds(value: t.Any, kept: int) -> None:
    assert token_expiry(value) == kept


@pytest.mark.parametrize("value", ["soon", "", None, float("nan"), float("inf"), [1]])
def test_token_expiry_refuses_what_is_no_number(value: t.Any) -> None:
    with pytest.raises(ExchangeFailed):
        token_expiry(value)


@pytest.mark.parametrize(
    ("claim", "verified"), [(True, True), ("true", True), (False, False), ("yes", False), (1, False)]
)
def test_email_verified(claim: t.Any, verified: bool) -> None:
    assert email_verified(claim) is verified


def test_describe_names_the_error_code_never_its_text() -> None:
    class OAuthError(Exception):
        error = "invalid_grant"

    assert describe(OAuthError("refresh token rt-secret revoked")) == "OAuthError('invalid_grant')"
    assert describe(ValueError("token abc")) == "ValueError"


def test_describe_quotes_and_cuts_the_error_code() -> None:
    """The ``error`` is the provider's text: a newline in it forged a log line, and its length was
    unbounded. It is logged as the callback's own ``error`` parameter is: ``%.64r``."""

    class OAuthError(Exception):
        error = "invalid_grant\nWARNING forged line " + "x" * 1000

    described = describe(OAuthError())
    assert "\n" not in described and described.startswith("OAuthError('invalid_grant\\nWARNING forged")
    assert described == f"OAuthError({OAuthError.error!r:.64})" and len(described) == len("OAuthError()") + 64
