"""Cross-site defence: cookie-authenticated mutations from another origin answer 403 JSON.

The decision table of :func:`~flask_authguard.core.defences.crosssite.cross_site_reason` first, then the
rule in ``with_auth`` and ``AuthGuard`` (Bearer tokens, safe methods, exempt views and the
option are not concerned).
"""

from __future__ import annotations

import json
import typing as t

import pytest
from conftest import SECRET
from flask import Flask, g
from flask import request as flask_request
from hypothesis import given
from hypothesis import strategies as st
from support.asgi_driver import run_asgi
from support.properties import BOUNDED, HEADER_CHARS
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request, Response

from flask_authguard import (
    AuthGuard,
    ConfigurationError,
    auth_required,
    encode,
    get_server_session,
    with_auth,
)
from flask_authguard.core.defences.crosssite import cross_site_reason, is_trusted
from flask_authguard.core.settings.checks import normalize_origin, normalize_origins
from flask_authguard.core.settings.config import resolve_options

COOKIE = "next-auth.session-token"
FRONT = "http://localhost:3000"


def token(**claims: t.Any) -> str:
    return encode(token={"sub": "u1", **claims}, secret=SECRET)


def environ(method: str = "POST", **headers: str) -> dict[str, t.Any]:
    builder = EnvironBuilder(
        path="/api/items", method=method, base_url="http://api.example.com", headers=headers
    )
    return t.cast("dict[str, t.Any]", builder.get_environ())


CONFIG = resolve_options({"secret": SECRET, "trusted_origins": [FRONT, "https://*.example.org"]})


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        pytest.param("GET", {"Sec-Fetch-Site": "cross-site"}, False, id="safe-method"),
        pytest.param("HEAD", {"Origin": "https://evil.test"}, False, id="head"),
        pytest.param("OPTIONS", {"Origin": "https://evil.test"}, False, id="options"),
        pytest.param("POST", {"Sec-Fetch-Site": "same-origin"}, False, id="fetch-same-origin"),
        pytest.param("POST", {"Sec-Fetch-Site": "none"}, False, id="fetch-user-initiated"),
        pytest.param("POST", {"Sec-Fetch-Site": "same-site"}, True, id="fetch-sibling-subdomain"),
        pytest.param("DELETE", {"Sec-Fetch-Site": "cross-site"}, True, id="fetch-cross-site"),
        pytest.param("PUT", {"Sec-Fetch-Site": "CROSS-SITE"}, True, id="fetch-case"),
        pytest.param("PATCH", {"Sec-Fetch-Site": "bogus"}, True, id="fetch-unknown-value"),
        pytest.param(
            "POST", {"Sec-Fetch-Site": "same-site", "Origin": FRONT}, False, id="fetch-trusted-front"
        ),
        pytest.param(
            "POST",
            {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.test"},
            True,
            id="fetch-untrusted",
        ),
        pytest.param(
            "POST",
            {"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.test"},
            False,
            id="fetch-metadata-wins",
        ),
        pytest.param("POST", {"Origin": "http://api.example.com"}, False, id="origin-same"),
        pytest.param("POST", {"Origin": "HTTP://API.EXAMPLE.COM:80"}, False, id="origin-same-normalised"),
        pytest.param("POST", {"Origin": "http://evil.api.example.com"}, True, id="origin-sibling"),
        pytest.param("POST", {"Origin": "https://api.example.com"}, True, id="origin-other-scheme"),
        pytest.param("POST", {"Origin": "http://api.example.com:8080"}, True, id="origin-other-port"),
        pytest.param("POST", {"Origin": "null"}, True, id="origin-null"),
        pytest.param("POST", {"Origin": "garbage"}, True, id="origin-garbage"),
        pytest.param("POST", {"Origin": FRONT}, False, id="origin-trusted"),
        pytest.param("POST", {"Origin": "https://app.example.org"}, False, id="origin-trusted-wildcard"),
        pytest.param("POST", {"Origin": "https://example.org"}, True, id="wildcard-not-the-apex"),
        pytest.param("POST", {"Origin": "https://evilexample.org"}, True, id="wildcard-not-a-suffix"),
        pytest.param("POST", {"Origin": "http://app.example.org"}, True, id="wildcard-keeps-scheme"),
        pytest.param("POST", {"Referer": "http://api.example.com/page?x=1"}, False, id="referer-same"),
        pytest.param("POST", {"Referer": "https://evil.test/page"}, True, id="referer-other"),
        pytest.param("POST", {"Referer": "not a url"}, True, id="referer-garbage"),
        pytest.param("POST", {"Referer": FRONT + "/cart"}, False, id="referer-trusted"),
        pytest.param("POST", {}, False, id="no-browser-headers"),
    ],
)
def test_decision_table(method: str, headers: dict[str, str], refused: bool) -> None:
    reason = cross_site_reason(environ(method, **headers), CONFIG)
    assert (reason is not None) is refused
    if reason is not None:
        assert method in reason


def test_the_configured_url_is_an_own_origin() -> None:
    config = resolve_options({"secret": SECRET, "url": "https://public.example.com"})
    assert cross_site_reason(environ(Origin="https://public.example.com"), config) is None
    assert cross_site_reason(environ(Origin="https://other.example.com"), config) is not None


def test_the_option_turns_it_off() -> None:
    config = resolve_options({"secret": SECRET, "cross_site_protection": False})
    assert cross_site_reason(environ(Origin="https://evil.test"), config) is None


def test_reason_names_the_header_and_is_printable() -> None:
    reason = cross_site_reason(environ(Origin="https://evil.test"), CONFIG)
    assert reason == "POST with the session cookie from another origin (Origin: https://evil.test)"
    reason = cross_site_reason(environ(**{"Sec-Fetch-Site": "cross-site", "Origin": "x" * 500}), CONFIG)
    assert reason is not None and len(reason) < 300


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://localhost:3000", "http://localhost:3000"),
        ("HTTPS://Example.COM:443/path?q", "https://example.com"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("ftp://example.com", None),
        ("null", None),
        ("http://user@example.com", None),
        ("http://example.com:99999", None),
        ("", None),
    ],
)
def test_normalize_origin(value: str, expected: str | None) -> None:
    assert normalize_origin(value) == expected


@pytest.mark.parametrize(
    "bad", ["http://localhost:3000", ["http://a.com/path"], ["localhost:3000"], [3000], ["http://a.com?x"]]
)
def test_bad_trusted_origins_fail_at_start_up(bad: t.Any) -> None:
    with pytest.raises(ConfigurationError, match="trusted_origins"):
        resolve_options({"secret": SECRET, "trusted_origins": bad})


def test_trusted_origins_are_normalised() -> None:
    assert normalize_origins(["HTTP://LOCALHOST:3000/", "https://*.Example.org:443"]) == (
        "http://localhost:3000",
        "https://*.example.org",
    )
    assert is_trusted("https://a.b.example.org", ("https://*.example.org",))


# -- in with_auth ------------------------------------------------------------------------------


def inner_app(environ: dict[str, t.Any], start_response: t.Any) -> t.Iterable[bytes]:
    return Response("ran", status=200)(environ, start_response)


def wsgi_client(**options: t.Any) -> Client:
    return Client(with_auth(inner_app, {"secret": SECRET, **options}), use_cookies=False)


def post(
    client: Client,
    *,
    cookie: str | None = None,
    bearer: str | None = None,
    method: str = "POST",
    **headers: str,
) -> t.Any:
    if cookie is not None:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return client.open("/api/items", method=method, base_url="http://api.example.com", headers=headers)


def test_with_auth_refuses_a_cross_site_cookie_post_with_403_json() -> None:
    response = post(wsgi_client(), cookie=token(), Origin="https://evil.example.com")
    assert response.status_code == 403
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == "CrossSiteRequest"
    assert "Origin: https://evil.example.com" in body["message"]
    assert "trusted_origins" in body["message"]
    assert response.get_data() != b"ran"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_with_auth_every_state_changing_method(method: str) -> None:
    response = post(wsgi_client(), cookie=token(), method=method, **{"Sec-Fetch-Site": "same-site"})
    assert response.status_code == 403


def test_with_auth_same_origin_and_trusted_front_end_pass() -> None:
    client = wsgi_client(trusted_origins=[FRONT])
    assert post(client, cookie=token(), Origin="http://api.example.com").get_data() == b"ran"
    assert post(client, cookie=token(), Origin=FRONT, **{"Sec-Fetch-Site": "same-site"}).get_data() == b"ran"


def test_with_auth_bearer_requests_are_not_affected() -> None:
    response = post(wsgi_client(), bearer=token(), Origin="https://evil.example.com")
    assert response.get_data() == b"ran"


def test_with_auth_safe_methods_are_not_affected() -> None:
    response = post(wsgi_client(), cookie=token(), method="GET", Origin="https://evil.example.com")
    assert response.get_data() == b"ran"


def test_with_auth_an_anonymous_cross_site_post_is_the_usual_401() -> None:
    response = post(wsgi_client(), Origin="https://evil.example.com", Accept="application/json")
    assert response.status_code == 401


def test_with_auth_option_off() -> None:
    response = post(
        wsgi_client(cross_site_protection=False), cookie=token(), Origin="https://evil.example.com"
    )
    assert response.get_data() == b"ran"


def test_with_auth_runs_before_authorized_and_the_inner_middleware() -> None:
    calls: list[str] = []

    def authorized(**_: t.Any) -> bool:
        calls.append("authorized")
        return True

    def middleware(request: Request) -> None:
        calls.append("inner")

    app = with_auth(inner_app, middleware, {"secret": SECRET, "callbacks": {"authorized": authorized}})
    response = post(Client(app, use_cookies=False), cookie=token(), Origin="https://evil.example.com")
    assert response.status_code == 403
    assert calls == []


def test_with_auth_behind_proxy_fix_compares_the_public_origin() -> None:
    app = ProxyFix(with_auth(inner_app, {"secret": SECRET}), x_proto=1, x_host=1)
    client = Client(app, use_cookies=False)
    headers = {
        "Cookie": f"__Secure-{COOKIE}={token()}",  # the public scheme is https
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "shop.example.com",
        "Origin": "https://shop.example.com",
    }
    response = client.post("/api/items", base_url="http://10.0.0.5:8000", headers=headers)
    assert response.get_data() == b"ran"
    headers["Origin"] = "http://10.0.0.5:8000"
    assert client.post("/api/items", base_url="http://10.0.0.5:8000", headers=headers).status_code == 403


# -- in AuthGuard ------------------------------------------------------------------------------


def flask_app(**options: t.Any) -> Flask:
    app = Flask(__name__)
    guard = AuthGuard(app, {"secret": SECRET, **options}, matcher=["/api/:path*"])

    @app.post("/api/items")
    def items() -> str:
        return "ran"

    @app.post("/api/hook")
    @guard.exempt
    def hook() -> str:
        return "hook"

    @app.post("/open/view")
    @auth_required
    def view() -> str:
        return f"view {g.auth_token['sub']}"

    return app


def flask_post(app: Flask, path: str, **headers: str) -> t.Any:
    headers.setdefault("Cookie", f"{COOKIE}={token()}")
    return app.test_client(use_cookies=False).post(path, base_url="http://api.example.com", headers=headers)


def test_guard_refuses_site_wide_and_per_view() -> None:
    app = flask_app()
    for path in ("/api/items", "/open/view"):
        response = flask_post(app, path, Origin="https://evil.example.com")
        assert response.status_code == 403, path
        assert response.get_json()["error"] == "CrossSiteRequest"


def test_guard_lets_same_origin_and_trusted_through() -> None:
    app = flask_app(trusted_origins=[FRONT])
    assert flask_post(app, "/api/items", Origin="http://api.example.com").get_data() == b"ran"
    assert flask_post(app, "/open/view", Origin=FRONT).get_data() == b"view u1"


def test_guard_exempt_view_is_not_checked() -> None:
    assert flask_post(flask_app(), "/api/hook", Origin="https://evil.example.com").get_data() == b"hook"


def test_guard_config_key_turns_it_off() -> None:
    app = Flask(__name__)
    app.config["AUTHGUARD_CROSS_SITE_PROTECTION"] = False
    AuthGuard(app, {"secret": SECRET})
    app.add_url_rule("/x", "x", lambda: "ran", methods=["POST"])
    assert flask_post(app, "/x", Origin="https://evil.example.com").get_data() == b"ran"


def test_guard_config_key_trusted_origins() -> None:
    app = Flask(__name__)
    app.config["AUTHGUARD_TRUSTED_ORIGINS"] = [FRONT]
    AuthGuard(app, {"secret": SECRET})
    app.add_url_rule("/x", "x", lambda: "ran", methods=["POST"])
    assert flask_post(app, "/x", Origin=FRONT).get_data() == b"ran"
    assert flask_post(app, "/x", Origin="http://localhost:3001").status_code == 403


def test_guard_bad_config_key_names_it() -> None:
    app = Flask(__name__)
    app.config["AUTHGUARD_TRUSTED_ORIGINS"] = "http://localhost:3000"
    with pytest.raises(ConfigurationError, match="AUTHGUARD_TRUSTED_ORIGINS"):
        AuthGuard(app, {"secret": SECRET})


# -- wherever the library supplies the identity: get_server_session(), g.auth_token ------------
# The same rule outside the guard's matcher: a cross-site unsafe request that the session cookie
# authenticates reads as signed out (and keeps its cookie), on every front end.

EVIL = "https://evil.example.com"
HOST = "http://api.example.com"
IDENTITY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _flask_identity(options: dict[str, t.Any]) -> t.Any:
    app = Flask(__name__)
    AuthGuard(app, options, matcher=["/private/:path*"])  # /who is outside the matcher

    @app.route("/who", methods=IDENTITY_METHODS)
    def who() -> t.Any:
        by_hand = get_server_session(flask_request._get_current_object(), None)  # type: ignore[attr-defined]
        return {"session": get_server_session(), "by_hand": by_hand, "token": g.auth_token}

    return app


def _wsgi_identity(options: dict[str, t.Any]) -> t.Any:
    def app(environ: dict[str, t.Any], start_response: t.Any) -> t.Iterable[bytes]:
        request, response = Request(environ), Response(mimetype="application/json")
        session = get_server_session(request, response, options)
        response.set_data(json.dumps({"session": session}))
        return response(environ, start_response)

    return with_auth(app, options, matcher=["/private/:path*"])


def _asgi_identity(options: dict[str, t.Any]) -> t.Any:
    from starlette.applications import Starlette
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from flask_authguard.asgi import AuthMiddleware
    from flask_authguard.asgi import get_server_session as asgi_session

    class Who:  # an ASGI app as the endpoint: Starlette routes every method to it, as sent
        async def __call__(self, scope: t.Any, receive: t.Any, send: t.Any) -> None:
            response = JSONResponse({})
            session = await asgi_session(StarletteRequest(scope, receive), response)
            await JSONResponse({"session": session}, headers=dict(response.headers))(scope, receive, send)

    return AuthMiddleware(Starlette(routes=[Route("/who", Who())]), options, matcher=["/private/:path*"])


def identity_of(
    front: str, method: str, headers: dict[str, str], **options: t.Any
) -> tuple[t.Any, list[str]]:
    """What the view at ``/who`` was told about the user, and the ``Set-Cookie`` it answered."""
    opts = {"secret": SECRET, "trusted_origins": [FRONT], **options}
    if front == "asgi":
        builder = EnvironBuilder(path="/who", method=method, base_url=HOST, headers=headers)
        chunks, status_line, answer = run_asgi(_asgi_identity(opts), builder.get_environ())
        status, cookies, body = (
            int(status_line.split()[0]),
            answer.getlist("Set-Cookie"),
            json.loads(b"".join(chunks)),
        )
    else:
        app = _flask_identity(opts) if front == "flask" else _wsgi_identity(opts)
        response = Client(app, use_cookies=False).open("/who", method=method, base_url=HOST, headers=headers)
        status, cookies, body = (
            response.status_code,
            response.headers.getlist("Set-Cookie"),
            response.get_json(),
        )
    assert status == 200, body
    return body, cookies


FRONT_ENDS = ["flask", "wsgi", "asgi"]


@pytest.mark.parametrize("front", FRONT_ENDS)
@pytest.mark.parametrize(
    ("method", "headers"),
    [
        pytest.param("POST", {"Origin": EVIL}, id="post-other-origin"),
        pytest.param("DELETE", {"Sec-Fetch-Site": "cross-site"}, id="delete-fetch-cross-site"),
        pytest.param("PUT", {"Sec-Fetch-Site": "same-site"}, id="put-sibling-subdomain"),
        pytest.param("patch", {"Origin": EVIL}, id="lower-case-patch"),
        pytest.param("POST", {"Referer": EVIL + "/page"}, id="post-other-referer"),
    ],
)
def test_a_cross_site_cookie_request_reads_no_session(
    front: str, method: str, headers: dict[str, str]
) -> None:
    body, cookies = identity_of(front, method, {"Cookie": f"{COOKIE}={token()}", **headers})
    assert body["session"] is None
    assert body.get("by_hand") is None and body.get("token") is None  # Flask's other two sources
    assert not any(c.startswith(COOKIE) for c in cookies)  # not signed out either: the cookie stays


@pytest.mark.parametrize("front", FRONT_ENDS)
@pytest.mark.parametrize(
    ("method", "headers", "options"),
    [
        pytest.param("GET", {"Origin": EVIL}, {}, id="safe-method"),
        pytest.param("POST", {"Origin": HOST}, {}, id="same-origin"),
        pytest.param("POST", {"Sec-Fetch-Site": "same-origin"}, {}, id="fetch-same-origin"),
        pytest.param("patch", {"Origin": FRONT}, {}, id="trusted-origin"),
        pytest.param("POST", {}, {}, id="no-browser-headers"),
        pytest.param("POST", {"Origin": EVIL}, {"cross_site_protection": False}, id="option-off"),
    ],
)
def test_an_allowed_cookie_request_reads_the_session(
    front: str, method: str, headers: dict[str, str], options: dict[str, t.Any]
) -> None:
    body, cookies = identity_of(front, method, {"Cookie": f"{COOKIE}={token()}", **headers}, **options)
    assert body["session"] is not None and body["session"]["expires"]
    if front == "flask":
        assert body["by_hand"] == body["session"] and body["token"]["sub"] == "u1"
    assert any(c.startswith(COOKIE + "=") for c in cookies)  # rolled as usual


def test_flask_a_cross_site_bearer_request_keeps_its_token() -> None:
    # a page cannot make the browser send someone's Bearer header: not forgeable, not concerned
    body, _ = identity_of("flask", "POST", {"Authorization": f"Bearer {token()}", "Origin": EVIL})
    assert body["token"]["sub"] == "u1"
    body, _ = identity_of("flask", "POST", {"Cookie": f"{COOKIE}={token()}", "Origin": EVIL})
    assert body["token"] is None


@pytest.mark.parametrize("front", ["with_auth", "AuthGuard"])
@pytest.mark.parametrize("method", ["patch", "Post", "delete", "PROPFIND"])
def test_the_guard_compares_methods_as_sent(front: str, method: str) -> None:
    if front == "with_auth":
        client = wsgi_client()
    else:
        app = Flask(__name__)
        AuthGuard(app, {"secret": SECRET})
        app.add_url_rule(
            "/api/items", "items", lambda: "ran", methods=["POST", "PATCH", "DELETE", "PROPFIND"]
        )
        client = app.test_client(use_cookies=False)
    response = post(client, cookie=token(), method=method, Origin=EVIL)
    assert response.status_code == 403 and response.get_json()["error"] == "CrossSiteRequest"
    assert method in response.get_json()["message"]


def test_a_websocket_handshake_is_checked_as_a_mutation() -> None:
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
    assert cross_site_reason(environ("GET", Origin=EVIL, **upgrade), CONFIG) is not None
    assert cross_site_reason(environ("GET", Origin="http://api.example.com", **upgrade), CONFIG) is None
    assert cross_site_reason(environ("GET", Origin=FRONT, **upgrade), CONFIG) is None
    reason = cross_site_reason(environ("GET", Origin=EVIL, **upgrade), CONFIG)
    assert reason is not None and reason.startswith("WebSocket handshake")


@pytest.mark.parametrize("front", ["with_auth", "AuthGuard"])
def test_the_guard_refuses_a_cross_site_websocket_handshake(front: str) -> None:
    # a WSGI server's WebSocket (flask-sock, gunicorn + simple-websocket): a GET with Upgrade
    if front == "with_auth":
        client = wsgi_client()
    else:
        app = Flask(__name__)
        AuthGuard(app, {"secret": SECRET})
        app.add_url_rule("/api/items", "items", lambda: "ran", websocket=True)  # werkzeug's rule
        client = app.test_client(use_cookies=False)
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
    refused = post(client, cookie=token(), method="GET", Origin=EVIL, **upgrade)
    assert refused.status_code == 403 and "WebSocket handshake" in refused.get_json()["message"]
    assert post(client, cookie=token(), method="GET", Origin=HOST, **upgrade).get_data() == b"ran"
    assert post(client, bearer=token(), method="GET", Origin=EVIL, **upgrade).get_data() == b"ran"


# -- properties: the cross-site rule -------------------------------------------------------------

CROSS = resolve_options({"secret": SECRET, "trusted_origins": ["http://localhost:3000"]})


@BOUNDED
@given(
    st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
    st.one_of(
        st.none(),
        st.text(HEADER_CHARS, max_size=40),
        st.sampled_from(["same-origin", "same-site", "cross-site", "none"]),
    ),
    st.one_of(
        st.none(),
        st.text(HEADER_CHARS, max_size=60),
        st.sampled_from(["https://evil.test", "null", "http://api.example.com", "http://localhost:3000"]),
    ),
    st.one_of(st.none(), st.text(HEADER_CHARS, max_size=60)),
)
def test_cross_site_rule_never_raises_and_never_trusts_a_stranger(
    method: str, site: str | None, origin: str | None, referer: str | None
) -> None:
    environ = EnvironBuilder(path="/x", method=method, base_url="http://api.example.com").get_environ()
    for key, value in (("HTTP_SEC_FETCH_SITE", site), ("HTTP_ORIGIN", origin), ("HTTP_REFERER", referer)):
        if value is not None:
            environ[key] = value
    reason = cross_site_reason(environ, CROSS)
    assert reason is None or reason.isprintable()
    friendly = {"http://api.example.com", "http://localhost:3000"}
    stranger = origin is not None and normalize_origin(origin) not in friendly
    if (
        method in ("POST", "PUT", "PATCH", "DELETE")
        and stranger
        and (site or "").strip().lower() not in ("same-origin", "none")
    ):
        assert reason is not None
