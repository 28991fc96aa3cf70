"""The refresh grant of a provider (``providers/refresh.py``) against the local OIDC server: what
the token endpoint's answers become, and the ``refresh`` option."""

from __future__ import annotations

import http.server
import threading
import typing as t

import pytest
from conftest import FrozenClock
from support.oauth_app import generic, oidc

from flask_authguard import AccessTokenError, ConfigurationError, OAuthProvider

if t.TYPE_CHECKING:
    from support.oidc_server import OIDCServer


def test_an_answer_without_a_refresh_token_keeps_the_one_sent(idp: OIDCServer) -> None:
    idp.scenario(token_response={"access_token": "new-access", "token_type": "Bearer", "expires_in": 120})
    tokens = generic(idp, refresh=True).refresh_tokens("the-refresh-token")
    assert tokens["access_token"] == "new-access" and tokens["refresh_token"] == "the-refresh-token"
    assert isinstance(tokens["expires_at"], int) and "id_token" not in tokens


class TokenEndpoint(http.server.ThreadingHTTPServer):
    """A token endpoint answering every POST with :attr:`body`, JSON text sent as it is (the
    Node.js server cannot write a number beyond a double)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TokenHandler)
        self.body = "{}"
        self.url = f"http://127.0.0.1:{self.server_address[1]}/token"
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _TokenHandler(http.server.BaseHTTPRequestHandler):
    server: TokenEndpoint

    def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002 - the base's name
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = self.server.body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def endpoint() -> t.Iterator[TokenEndpoint]:
    server = TokenEndpoint()
    yield server
    server.shutdown()
    server.server_close()


def acme(endpoint: TokenEndpoint) -> OAuthProvider:
    """A provider refreshing at ``endpoint`` (its other endpoints are never reached)."""
    return OAuthProvider(
        id="acme",
        name="Acme",
        client_id="c",
        client_secret="s",
        authorization_url="http://127.0.0.1:9/authorize",
        token_url=endpoint.url,
        userinfo_url="http://127.0.0.1:9/userinfo",
        refresh=True,
    )


NOW = 1_700_000_000


@pytest.mark.parametrize(
    ("field", "value", "kept"),
    [
        pytest.param("expires_in", "-1" + "0" * 400, NOW, id="expires_in huge negative"),
        pytest.param("expires_in", "1" + "0" * 400, NOW + 10**10, id="expires_in huge"),
        pytest.param("expires_in", "-1e308", NOW, id="expires_in huge negative float"),
        pytest.param("expires_in", "-5", NOW, id="expires_in negative"),
        pytest.param("expires_in", "3599.9", NOW + 3599, id="expires_in fractional"),
        pytest.param("expires_at", "-1" + "0" * 400, 0, id="expires_at huge negative"),
        pytest.param("expires_at", "1" + "0" * 400, 10**12, id="expires_at huge"),
        pytest.param("expires_at", "-1e308", 0, id="expires_at huge negative float"),
        pytest.param("expires_at", str(NOW + 60), NOW + 60, id="expires_at"),
    ],
)
def test_an_absurd_expiry_is_kept_within_bounds(
    endpoint: TokenEndpoint, frozen_clock: FrozenClock, field: str, value: str, kept: int
) -> None:
    """``expires_at`` is an integer between 0 and 10**12 whatever number the provider sent."""
    endpoint.body = f'{{"access_token": "at", "token_type": "Bearer", "{field}": {value}}}'
    tokens = acme(endpoint).refresh_tokens("the-refresh-token")
    assert tokens["expires_at"] == kept and type(tokens["expires_at"]) is int


@pytest.mark.parametrize(
    "expires_in",
    [
        pytest.param('"3600.0"', id="a string with a fraction"),
        pytest.param('"1h"', id="not a number"),
        pytest.param("NaN", id="NaN"),
        pytest.param("1e400", id="beyond a double"),
    ],
)
def test_a_granted_answer_with_an_unreadable_expiry_keeps_its_tokens(
    endpoint: TokenEndpoint, frozen_clock: FrozenClock, expires_in: str
) -> None:
    """Authlib's ``int()`` fails on such an ``expires_in``: the answer is read here instead, so
    the new access token and the rotated refresh token are kept (before, both were lost and
    the used-up refresh token was sent again, which a rotating provider refuses)."""
    endpoint.body = (
        '{"access_token": "new-access", "refresh_token": "rotated", "token_type": "Bearer", '
        f'"expires_in": {expires_in}}}'
    )
    tokens = acme(endpoint).refresh_tokens("the-refresh-token")
    assert tokens["access_token"] == "new-access" and tokens["refresh_token"] == "rotated"
    assert "expires_at" not in tokens or type(tokens["expires_at"]) is int


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
