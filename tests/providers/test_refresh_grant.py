"""The refresh grant of a provider (``providers/refresh.py``) against the local OIDC server: what
the token endpoint's answers become, and the ``refresh`` option."""

from __future__ import annotations

import typing as t

import pytest
from support.oauth_app import generic, oidc

from flask_authguard import AccessTokenError, ConfigurationError

if t.TYPE_CHECKING:
    from support.oidc_server import OIDCServer


def test_an_answer_without_a_refresh_token_keeps_the_one_sent(idp: OIDCServer) -> None:
    idp.scenario(token_response={"access_token": "new-access", "token_type": "Bearer", "expires_in": 120})
    tokens = generic(idp, refresh=True).refresh_tokens("the-refresh-token")
    assert tokens["access_token"] == "new-access" and tokens["refresh_token"] == "the-refresh-token"
    assert isinstance(tokens["expires_at"], int) and "id_token" not in tokens


@pytest.mark.parametrize(
    ("behaviour", "reason", "error"),
    [
        pytest.param(
            {"token_response": {"error": "invalid_grant"}, "token_status": 400},
            "refused",
            "invalid_grant",
            id="invalid_grant",
        ),
        pytest.param({"token_response": {"message": "no"}, "token_status": 401}, "refused", None, id="a 401"),
        pytest.param(
            {"token_response": {"error": "oops"}, "token_status": 503}, "unavailable", None, id="a 503"
        ),
        pytest.param({"token_garbage": True}, "unavailable", None, id="an HTML page"),
        pytest.param({"token_response": {"token_type": "Bearer"}}, "unavailable", None, id="no access token"),
        pytest.param({"token_down": True}, "unavailable", None, id="connection dropped"),
    ],
)
def test_failures(idp: OIDCServer, behaviour: dict[str, t.Any], reason: str, error: str | None) -> None:
    idp.scenario(**behaviour)
    with pytest.raises(AccessTokenError) as caught:
        oidc(idp, refresh=True).refresh_tokens("the-refresh-token")
    assert (caught.value.provider, caught.value.reason, caught.value.error) == ("corp", reason, error)
    assert "the-refresh-token" not in str(caught.value)


def test_a_slow_provider_is_unavailable_within_its_timeout(idp: OIDCServer) -> None:
    provider = oidc(idp, refresh=True, timeout=0.5)
    provider.endpoints()  # discovery first, at normal speed
    idp.scenario(token_delay_ms=3000)
    with pytest.raises(AccessTokenError) as caught:
        provider.refresh_tokens("the-refresh-token")
    assert caught.value.reason == "unavailable"


def test_refresh_must_be_a_bool(idp: OIDCServer) -> None:
    with pytest.raises(ConfigurationError, match="refresh must be True or False"):
        oidc(idp, refresh="yes")


def test_database_sessions_need_the_account_methods(idp: OIDCServer) -> None:
    from flask_authguard.core.settings.config import resolve_options
    from flask_authguard.sessions import strategy_of

    class Partial:  # an adapter without get_user_account / update_account
        def get_session_and_user(self, token: str) -> None:
            return None

    config = resolve_options(
        {"secret": "s" * 32, "adapter": Partial(), "providers": [oidc(idp, refresh=True)]}
    )
    with pytest.raises(ConfigurationError, match="get_user_account"):
        strategy_of(config)
