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

    assert describe(OAuthError("refresh token rt-secret revoked")) == "OAuthError(invalid_grant)"
    assert describe(ValueError("token abc")) == "ValueError"
