"""One guard decision (issue 29.2): every front end runs the same steps, the inner middleware
included, through :meth:`AuthCore.check`; one helper writes the private-cache headers."""

from __future__ import annotations

import typing as t
from urllib.parse import quote

import pytest

pytest.importorskip("starlette", reason="the ASGI tests need starlette: pip install -e '.[test]'")

from conftest import SECRET, FrozenClock  # noqa: E402
from fastapi import Depends, FastAPI  # noqa: E402
from flask import Blueprint, Flask  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402
from support.handler_app import APP_KINDS, BASE, CURRENT_KIND, client_of, make_app  # noqa: E402
from werkzeug.test import Client  # noqa: E402
from werkzeug.wrappers import Request, Response  # noqa: E402

from flask_authguard import AuthGuard, auth_required, with_auth  # noqa: E402
from flask_authguard.asgi import AuthMiddleware, require_auth  # noqa: E402
from flask_authguard.guard.caching import cache_headers  # noqa: E402
from flask_authguard.guard.decision import AuthCore  # noqa: E402

COOKIE = "next-auth.session-token"


def _inner(seen: list[str]) -> t.Callable[[Request], Response | None]:
    def inner(request: Request) -> Response | None:
        seen.append(request.path)
        if request.args.get("stop"):
            return Response("stopped by the inner middleware", status=418)
        return None

    return inner


@pytest.fixture
def token(frozen_clock: FrozenClock, make_token: t.Callable[..., str]) -> str:
    return make_token(sub="u1", name="Ann")


def test_asgi_require_auth_runs_the_inner_middleware(token: str) -> None:
    """As Flask's ``@auth_required`` does: a route outside the middleware's matcher, protected by
    the ``require_auth`` dependency, runs the inner middleware for an authorized request."""
    seen: list[str] = []
    app = FastAPI()

    @app.get("/api/me", dependencies=[Depends(require_auth())])
    def me() -> dict[str, bool]:
        return {"ok": True}

    guarded = AuthMiddleware(app, {"secret": SECRET}, matcher=["/private/:path*"], middleware=_inner(seen))
    client = TestClient(guarded)
    client.cookies.set(COOKIE, token)
    assert client.get("/api/me").json() == {"ok": True}
    assert seen == ["/api/me"]
    stopped = client.get("/api/me", params={"stop": "1"})
    assert stopped.status_code == 418 and stopped.text == "stopped by the inner middleware"


def test_flask_auth_required_runs_the_inner_middleware_too(token: str) -> None:
    seen: list[str] = []
    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET}, matcher=["/private/:path*"], middleware=_inner(seen))

    @app.get("/api/me")
    @auth_required
    def me() -> str:
        return "ok"

    client = app.test_client()
    client.set_cookie(COOKIE, token)
    assert client.get("/api/me").get_data() == b"ok"
    assert client.get("/api/me?stop=1").status_code == 418
    assert seen == ["/api/me", "/api/me"]


def test_with_auth_runs_the_inner_middleware_once(token: str) -> None:
    seen: list[str] = []
    app = with_auth(lambda e, s: Response("page")(e, s), _inner(seen), {"secret": SECRET})
    client = Client(app)
    client.set_cookie(COOKIE, token)
    assert client.get("/p").status_code == 200
    assert client.get("/p?stop=1").status_code == 418
    assert seen == ["/p", "/p"]


@pytest.mark.parametrize(
    ("headers", "private", "expected"),
    [
        ([], True, [("Vary", "Cookie"), ("Cache-Control", "private")]),
        ([], False, [("Vary", "Cookie")]),
        ([("vary", "cookie")], False, [("Vary", "cookie")]),
        ([("Vary", "Origin")], True, [("Vary", "Origin, Cookie"), ("Cache-Control", "private")]),
        ([("Cache-Control", "no-store")], True, [("Cache-Control", "no-store"), ("Vary", "Cookie")]),
        ([("Vary", "*")], False, [("Vary", "*")]),
    ],
)
def test_one_helper_writes_vary_and_cache_control(
    headers: list[tuple[str, str]], private: bool, expected: list[tuple[str, str]]
) -> None:
    assert cache_headers(headers, private=private) == expected


# -- non-ASCII paths: the matcher and the skip list compare the decoded path -----------------------


def wsgi_string(path: str) -> str:
    """``path`` as WSGI carries it in ``PATH_INFO``: its UTF-8 bytes read as latin-1."""
    return path.encode("utf-8").decode("latin-1")


@pytest.fixture(params=APP_KINDS)
def front(request: pytest.FixtureRequest) -> t.Iterator[str]:
    """``make_app`` builds this front end: flask, wsgi, starlette or fastapi."""
    CURRENT_KIND[0] = request.param
    yield request.param
    CURRENT_KIND[0] = "flask"


def test_the_decision_matches_the_decoded_path() -> None:
    core = AuthCore({"secret": SECRET}, matcher=["/café/:path*", "/straße"])
    assert core.is_protected({"PATH_INFO": wsgi_string("/café/menu")})
    assert core.is_protected({"PATH_INFO": wsgi_string("/straße")})
    assert not core.is_protected({"PATH_INFO": "/cafe/menu"})
    # bytes that are not UTF-8 are read as the app's router reads them (U+FFFD), never an error
    assert not core.is_protected({"PATH_INFO": "/caf\xff/menu"})
    assert AuthCore({"secret": SECRET}).is_protected({"PATH_INFO": "/caf\xff/menu"})


@pytest.mark.parametrize("page", ["/anmeldung-ü", "/anmeldung-%C3%BC"], ids=["text", "escaped"])
def test_the_skip_list_compares_the_decoded_path(page: str) -> None:
    core = AuthCore({"secret": SECRET, "pages": {"sign_in": page}})
    path = wsgi_string("/anmeldung-ü")
    assert core.is_skipped({}, path)
    assert not core.is_protected({"PATH_INFO": path})
    assert core.is_protected({"PATH_INFO": wsgi_string("/anmeldung-u")})


@pytest.mark.parametrize("matcher", [["/café/:path*", "/straße"], ["/caf%C3%A9/:path*", "/stra%C3%9Fe"]])
@pytest.mark.parametrize("url", ["/caf%C3%A9/menu", "/caf%C3%A9", "/stra%C3%9Fe", "/stra%C3%9Fe/"])
def test_a_non_ascii_matcher_entry_protects_its_pages(front: str, matcher: list[str], url: str) -> None:
    client = client_of(make_app(matcher=matcher))
    response = client.get(url)
    assert response.status_code == 307
    assert response.headers["Location"] == f"{BASE}/api/auth/signin?callbackUrl={quote(url, safe='')}"
    assert client.get("/cafe/menu").status_code == 404  # another page: not the guard's


@pytest.mark.parametrize("page", ["/anmeldung-ü", "/anmeldung-%C3%BC"], ids=["text", "escaped"])
def test_a_non_ascii_sign_in_page_is_not_sent_to_itself(front: str, page: str) -> None:
    client = client_of(make_app(matcher=["/:path*"], pages={"sign_in": page}))
    private = client.get("/private")
    assert private.status_code == 307
    assert private.headers["Location"].startswith(f"{BASE}/anmeldung-%C3%BC?callbackUrl=")
    # the page reaches the app (which has none here: 404), rather than a redirect to itself
    assert client.get("/anmeldung-%C3%BC").status_code == 404


@pytest.mark.parametrize("check", ["blueprint", "view"])
def test_flasks_view_checks_skip_a_non_ascii_sign_in_page(check: str) -> None:
    """``protect()`` and ``@auth_required`` ask the same skip list: a sign-in page served by a
    protected blueprint, or behind ``@auth_required``, is not sent to sign in."""
    app = Flask(__name__)
    guard = AuthGuard(app, {"secret": SECRET, "pages": {"sign_in": "/anmeldung-ü"}}, matcher=[])
    site = Blueprint("site", __name__)

    def sign_in_page() -> str:
        return "sign in here"

    def account() -> str:
        return "account"

    if check == "blueprint":
        site.add_url_rule("/anmeldung-ü", view_func=sign_in_page)
        site.add_url_rule("/konto", view_func=account)
        guard.protect(site)
    else:
        site.add_url_rule("/anmeldung-ü", view_func=auth_required(sign_in_page))
        site.add_url_rule("/konto", view_func=auth_required(account))
    app.register_blueprint(site)
    client = app.test_client()
    assert client.get("/konto").status_code == 307
    page = client.get("/anmeldung-%C3%BC")
    assert page.status_code == 200 and page.get_data() == b"sign in here"
