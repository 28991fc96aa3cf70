"""``flask_authguard.flask.testing``: signing test clients in and out as a real sign-in would."""

from __future__ import annotations

import typing as t

import pytest
from conftest import SECRET, FrozenClock
from flask import Flask, g
from werkzeug.test import Client
from werkzeug.wrappers import Response

from flask_authguard import AuthGuard, ConfigurationError, decode, get_server_session, with_auth
from flask_authguard.flask.testing import DEFAULT_CLAIMS, make_session_cookie, sign_in, sign_out

V4 = "next-auth.session-token"
V5 = "authjs.session-token"
CHUNK = 4096 - 163


def make_app(options: dict[str, t.Any] | None = None, **config: t.Any) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    AuthGuard(app, {"secret": SECRET, **(options or {})})

    @app.get("/me")
    def me() -> dict[str, t.Any]:
        return {"token": g.auth_token, "session": get_server_session()}

    return app


@pytest.fixture(autouse=True)
def _clock(frozen_clock: FrozenClock) -> FrozenClock:
    return frozen_clock


def stored_names(client: t.Any) -> list[str]:
    return sorted(key[2] for key in client._cookies)


def test_sign_in_with_the_default_user_and_sign_out() -> None:
    app = make_app()
    client = app.test_client()
    assert client.get("/me").status_code == 307
    cookies = sign_in(client)
    assert list(cookies) == [V4]
    body = client.get("/me").json
    assert {k: body["token"][k] for k in DEFAULT_CLAIMS} == DEFAULT_CLAIMS
    assert body["session"]["user"] == {"name": "Test User", "email": "test@example.com"}
    sign_out(client)
    assert stored_names(client) == []
    assert client.get("/me").status_code == 307


def test_claims_as_a_mapping_and_as_keywords() -> None:
    client = make_app().test_client()
    sign_in(client, {"sub": "u1", "role": "user"}, role="admin", name="Ada")
    token = client.get("/me").json["token"]
    assert (token["sub"], token["role"], token["name"]) == ("u1", "admin", "Ada")
    assert "email" not in token  # given claims replace the default user
    sign_in(client, sub="only-keywords")
    assert client.get("/me").json["token"]["sub"] == "only-keywords"


def test_the_cookie_is_what_the_app_reads_and_refreshes(frozen_clock: FrozenClock) -> None:
    client = make_app({"session": {"max_age": 600}}).test_client()
    cookies = sign_in(client, sub="u1")
    claims = decode(token=cookies[V4], secret=SECRET)
    assert claims is not None and claims["exp"] == frozen_clock.now + 600
    frozen_clock.now += 500
    response = client.get("/me")
    assert response.json["token"]["sub"] == "u1"
    refreshed = client.get_cookie(V4)
    assert refreshed is not None and refreshed.value != cookies[V4]  # the app's rolling refresh
    frozen_clock.now += 500  # past the first token's expiry, within the refreshed one
    assert client.get("/me").status_code == 200


def test_max_age_sets_the_tokens_lifetime(frozen_clock: FrozenClock) -> None:
    client = make_app().test_client()
    sign_in(client, sub="short", max_age=10)
    frozen_clock.now += 60  # past exp and the 15 s tolerance, with no request to refresh it
    assert client.get("/me").status_code == 307
    sign_in(client, sub="short", max_age=10)
    assert client.get("/me").status_code == 200


def test_long_claims_are_chunked_like_next_auth_and_replaced_cleanly() -> None:
    client = make_app().test_client()
    cookies = sign_in(client, sub="big", groups=[f"group-{i}-{'z' * 24}" for i in range(220)])
    assert list(cookies) == [f"{V4}.0", f"{V4}.1", f"{V4}.2"]
    assert all(len(v) == CHUNK for v in list(cookies.values())[:-1])
    body = client.get("/me").json
    assert body["token"]["sub"] == "big" and len(body["token"]["groups"]) == 220
    sign_in(client, sub="small")
    assert stored_names(client) == [V4]  # no stale chunk left behind
    assert client.get("/me").json["token"]["sub"] == "small"


def test_sign_out_forgets_the_cookies_the_app_itself_set() -> None:
    client = make_app().test_client()
    sign_in(client, sub="u1", blob="x" * 5000)
    client.get("/me")  # the app re-sets the chunks with its own attributes
    assert stored_names(client) == [f"{V4}.0", f"{V4}.1"]
    sign_out(client)
    assert stored_names(client) == []


def test_v5_app_gets_authjs_cookies() -> None:
    client = make_app(AUTHGUARD_VERSION=5).test_client()
    cookies = sign_in(client, sub="five")
    assert list(cookies) == [V5]
    assert decode(token=cookies[V5], secret=SECRET, salt=V5, version=5)["sub"] == "five"
    assert client.get("/me").json["token"]["sub"] == "five"


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"AUTHGUARD_URL": "https://app.example.com"}, id="https-url"),
        pytest.param({"AUTHGUARD_USE_SECURE_COOKIES": True}, id="use-secure-cookies"),
    ],
)
def test_https_only_app_gets_secure_names(config: dict[str, t.Any]) -> None:
    client = make_app(**config).test_client()
    assert list(sign_in(client, sub="s")) == [f"__Secure-{V4}"]
    assert client.get("/me").json["token"]["sub"] == "s"


def test_secure_names_on_request_for_https_requests_to_an_app_that_follows_the_scheme() -> None:
    app = make_app()
    client = app.test_client()
    assert list(sign_in(client, sub="s", secure=True)) == [f"__Secure-{V4}"]
    assert client.get("/me", base_url="https://localhost").json["token"]["sub"] == "s"
    assert client.get("/me").status_code == 307  # plain http reads the plain name
    assert list(make_session_cookie(app, {"sub": "x"}, secure=False)) == [V4]


def test_custom_cookie_name_and_encode_hook() -> None:
    def my_encode(*, token: dict[str, t.Any], **_: t.Any) -> str:
        return "plain:" + token["sub"]

    def my_decode(*, token: str, **_: t.Any) -> dict[str, t.Any] | None:
        return {"sub": token.removeprefix("plain:")} if token.startswith("plain:") else None

    options = {
        "cookies": {"session_token": {"name": "sid"}},
        "jwt": {"encode": my_encode, "decode": my_decode},
    }
    client = make_app(options).test_client()
    assert sign_in(client, sub="hooked") == {"sid": "plain%3Ahooked"}
    assert client.get("/me").json["token"] == {"sub": "hooked"}


def test_server_name_sets_the_cookie_domain() -> None:
    app = make_app(SERVER_NAME="example.test:8000")
    client = app.test_client()
    sign_in(client, sub="named")
    assert client.get_cookie(V4, domain="example.test") is not None
    assert client.get("/me").json["token"]["sub"] == "named"
    sign_out(client)
    assert client.get("/me").status_code == 307


def test_several_apps_each_get_their_own_cookie() -> None:
    first = make_app()
    second = make_app(AUTHGUARD_SECRET="second-secret-0123456789abcdef0123")
    c1, c2 = first.test_client(), second.test_client()
    sign_in(c1, sub="one")
    sign_in(c2, sub="two")
    assert c1.get("/me").json["token"]["sub"] == "one"
    assert c2.get("/me").json["token"]["sub"] == "two"
    sign_in(c1, sub="wrong-app", app=second)  # signed with the other app's secret
    assert c1.get("/me").status_code == 307


def test_make_session_cookie_for_a_plain_wsgi_app() -> None:
    options = {"secret": SECRET}

    def hello(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        return Response(environ["authguard.token"]["sub"])(environ, start_response)

    app = with_auth(hello, options)
    cookies = make_session_cookie(options, {"sub": "wsgi"})
    # as a Cookie header (a client that keeps no cookies of its own, requests, curl...)
    header = "; ".join(f"{name}={value}" for name, value in cookies.items())
    plain = Client(app, use_cookies=False)
    response = plain.get("/", headers={"Cookie": header})
    assert response.status_code == 200 and response.text == "wsgi"
    assert plain.get("/").status_code == 307
    # or one by one on a client that keeps cookies
    client = Client(app)
    for name, value in cookies.items():
        client.set_cookie(name, value)
    assert client.get("/").text == "wsgi"


def test_errors() -> None:
    with pytest.raises(ConfigurationError, match="not initialised"):
        make_session_cookie(Flask(__name__), {"sub": "x"})
    with pytest.raises(ConfigurationError, match="no secret"):
        make_session_cookie({}, {"sub": "x"})
    with pytest.raises(ConfigurationError, match="database"):
        make_session_cookie({"secret": SECRET, "adapter": object()}, {"sub": "x"})
    with pytest.raises(TypeError, match="app="):
        sign_in(Client(lambda e, s: []), sub="x")
    with pytest.raises(TypeError, match="app="):
        sign_out(Client(lambda e, s: []))
