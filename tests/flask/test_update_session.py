"""Server-side session update (issue 30, item 2): ``update_session(data)`` runs the callbacks as
next-auth's ``POST /api/auth/session`` does and rolls the cookie, in Flask, with werkzeug objects
and on ASGI, on both strategies; the front end's ``update()`` keeps working."""

from __future__ import annotations

import typing as t

import pytest
from conftest import SECRET
from fastapi import Request as FastAPIRequest
from fastapi import Response as FastAPIResponse
from flask import Flask
from support.adapters import pg_engine, pg_schema  # noqa: F401 - fixtures
from support.handler_app import V4, asgi_loop, client_of, cookie_value, csrf_of
from support.session_ops_app import KINDS, device, make_app, options_for, sign_in
from werkzeug.wrappers import Request, Response

from flask_authguard import decode, update_session


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return t.cast(str, request.param)


def _claims(client: t.Any) -> dict[str, t.Any] | None:
    return decode(token=client.get_cookie(V4, domain=client.host).value, secret=SECRET)


def test_update_session_in_flask(kind: str, request: pytest.FixtureRequest) -> None:
    app, _ = make_app(options_for(kind, request))
    client = device(app, "Laptop")
    sign_in(client)
    response = client.post("/nickname", data={"nickname": "Ace"})
    body = response.get_json()
    assert body["session"]["nickname"] == "Ace"
    assert body["again"] == body["session"]  # a later read in the request sees the update
    assert cookie_value(response, V4)  # the cookie is rolled
    later = client.get("/me").get_json()
    if kind.startswith("jwt"):
        assert body["token"]["nickname"] == "Ace"  # g.auth_token is the updated token
        assert later["session"]["nickname"] == "Ace"  # kept in the cookie
        assert _claims(client)["nickname"] == "Ace"  # type: ignore[index]
    else:
        # database sessions: the session callback's answer to the update, as next-auth's; the
        # row holds no session data, so a later read shapes the session anew
        assert "nickname" not in later["session"]
        assert later["session"]["user"]["email"] == "ada@example.com"


def test_the_front_ends_update_keeps_working(kind: str, request: pytest.FixtureRequest) -> None:
    """next-auth's client: ``POST /api/auth/session`` with ``{csrfToken, data}`` as JSON."""
    app, _ = make_app(options_for(kind, request))
    client = device(app, "Laptop")
    sign_in(client)
    response = client.post(
        "/api/auth/session", json={"csrfToken": csrf_of(client), "data": {"nickname": "Ace"}}
    )
    assert response.status_code == 200
    assert response.get_json()["nickname"] == "Ace"
    if kind.startswith("jwt"):
        assert client.get("/api/auth/session").get_json()["nickname"] == "Ace"
    refused = client.post("/api/auth/session", json={"data": {"nickname": "Eve"}})  # no CSRF token
    assert refused.status_code == 400


def test_an_update_the_jwt_callback_refuses_signs_out(request: pytest.FixtureRequest) -> None:
    def jwt(*, token: dict[str, t.Any], trigger: str | None = None, **kwargs: t.Any) -> t.Any:
        return None if trigger == "update" else token

    app, _ = make_app(options_for("jwt", request, callbacks={"jwt": jwt}))
    client = device(app, "Laptop")
    sign_in(client)
    response = client.post("/nickname", data={"nickname": "Ace"})
    assert response.get_json()["session"] is None
    assert any(h.startswith(f"{V4}=;") for h in response.headers.getlist("Set-Cookie"))
    assert client.get("/me").get_json()["session"] is None


def test_anonymous_update_is_none(request: pytest.FixtureRequest) -> None:
    app, _ = make_app(options_for("jwt", request))
    client = device(app, "Laptop")
    response = client.post("/nickname", data={"nickname": "Ace"})
    assert response.get_json()["session"] is None
    assert not response.headers.getlist("Set-Cookie")


def test_wrong_forms() -> None:
    with pytest.raises(RuntimeError, match="Flask request"):
        update_session({"nickname": "Ace"})
    with pytest.raises(TypeError):
        update_session()
    with pytest.raises(TypeError):
        update_session(Request.from_values(), Response())  # the data is missing
    with pytest.raises(TypeError):
        update_session("a", "b", "c")


@pytest.mark.parametrize("kind", ["jwt", "database"])
def test_update_session_with_werkzeug_objects(kind: str, request: pytest.FixtureRequest) -> None:
    options = options_for(kind, request)
    flask_app, _ = make_app(options)  # signs in (the same options: the same sessions)

    @Request.application  # type: ignore[arg-type]
    def plain(req: Request) -> Response:
        response = Response(mimetype="application/json")
        session = update_session(req, response, {"nickname": req.args["nickname"]}, options)
        response.set_data(str((session or {}).get("nickname")))
        return response

    client = device(flask_app, "Laptop")
    sign_in(client)
    wsgi = client_of(plain)
    wsgi.set_cookie(V4, client.get_cookie(V4, domain=client.host).value)
    response = wsgi.get("/?nickname=Ace")
    assert response.get_data(as_text=True) == "Ace"
    assert cookie_value(response, V4)
    assert "Cookie" in response.headers["Vary"]


@pytest.mark.parametrize("kind", ["jwt", "database"])
def test_update_session_on_asgi(kind: str, request: pytest.FixtureRequest) -> None:
    from a2wsgi import ASGIMiddleware
    from fastapi import FastAPI

    from flask_authguard.asgi import AuthMiddleware
    from flask_authguard.asgi import update_session as asgi_update_session

    options = options_for(kind, request)
    api = FastAPI()

    @api.post("/nickname/{nickname}")
    async def nickname(nickname: str, request: FastAPIRequest, response: FastAPIResponse) -> t.Any:
        return await asgi_update_session(request, response, {"nickname": nickname})

    api.add_middleware(AuthMiddleware, options=options, matcher=[])
    api.middleware_stack = api.build_middleware_stack()
    client = client_of(ASGIMiddleware(api, loop=asgi_loop()))
    sign_in(client)
    response = client.post("/nickname/Ace")
    assert response.get_json()["nickname"] == "Ace"
    assert cookie_value(response, V4)
    if kind == "jwt":
        assert client.get("/api/auth/session").get_json()["nickname"] == "Ace"


def test_two_updates_in_one_request_both_apply(request: pytest.FixtureRequest) -> None:
    def jwt(
        *, token: dict[str, t.Any], trigger: str | None = None, session: t.Any = None, **kw: t.Any
    ) -> t.Any:
        if trigger == "update":
            token.update(session)
        return token

    app = Flask(__name__)
    from flask_authguard import AuthGuard

    options = options_for("jwt", request, callbacks={"jwt": jwt})
    AuthGuard(app, options, matcher=[])

    @app.post("/both")
    def both() -> t.Any:
        update_session({"a": 1})
        return update_session({"b": 2}) or {}

    client = device(app, "Laptop")
    sign_in(client)
    client.post("/both")
    claims = _claims(client)
    assert claims is not None and (claims["a"], claims["b"]) == (1, 2)
