"""``flask_authguard.asgi.later_check``: which route a request goes to, and whether it checks the
request again (a ``require_auth`` dependency), found before the app routes it. End to end:
``tests/asgi/test_asgi.py::test_the_inner_middleware_runs_after_a_stricter_require_auth``."""

from __future__ import annotations

import typing as t

import pytest

pytest.importorskip("fastapi", reason="the ASGI tests need fastapi: pip install -e '.[test]'")

from fastapi import APIRouter, Depends, FastAPI  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Mount, Route  # noqa: E402

from flask_authguard.asgi import require_auth  # noqa: E402
from flask_authguard.asgi.later_check import mounted_apps, route_checks_again  # noqa: E402


def scope(path: str, method: str = "GET") -> dict[str, t.Any]:
    return {
        "type": "http",
        "path": path,
        "root_path": "",
        "method": method,
        "headers": [],
        "query_string": b"",
    }


def app_with_checks() -> FastAPI:
    check = Depends(require_auth())
    app = FastAPI()
    app.get("/plain")(lambda: "plain")
    app.get("/checked", dependencies=[check])(lambda: "checked")

    async def token(claims: t.Any = check) -> t.Any:  # a dependency of a dependency
        return claims

    nested_token = Depends(token)

    @app.get("/nested")
    async def nested(claims: t.Any = nested_token) -> str:
        return "nested"

    routed = APIRouter(prefix="/routed", dependencies=[check])
    routed.get("/page")(lambda: "page")
    app.include_router(routed)
    included = APIRouter(prefix="/included")
    included.get("/page")(lambda: "page")
    app.include_router(included, dependencies=[check])
    sub = FastAPI()
    sub.get("/page", dependencies=[check])(lambda: "page")
    sub.get("/open")(lambda: "open")
    app.mount("/sub", sub)
    return app


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/plain", False),
        ("/checked", True),
        ("/nested", True),
        ("/routed/page", False),  # FastAPI 0.16x matches an included router itself
        ("/included/page", False),
        ("/sub/page", True),
        ("/sub/open", False),
        ("/nowhere", False),
    ],
)
def test_routes_that_check_again(path: str, expected: bool) -> None:
    app = app_with_checks()
    assert route_checks_again(scope(path), app) is expected
    assert route_checks_again({**scope(path), "app": app}, None) is expected  # the app the scope names


def test_the_wrapped_app_comes_before_the_one_the_scope_names() -> None:
    """A guarded app mounted in a bigger one: its own routes decide, at the path it sees."""
    app = app_with_checks()
    top = Starlette(routes=[Mount("/api", app=app)])
    mounted = {**scope("/api/checked"), "root_path": "/api", "app": top}
    assert route_checks_again(mounted, app) is True
    assert route_checks_again({**mounted, "path": "/api/plain"}, app) is False


def test_a_method_the_route_does_not_serve_is_no_check() -> None:
    assert route_checks_again(scope("/checked", "POST"), app_with_checks()) is False  # a 405


def test_a_plain_starlette_app_has_no_declared_checks() -> None:
    app = Starlette(routes=[Route("/page", lambda request: PlainTextResponse("page"))])
    assert route_checks_again(scope("/page"), app) is False
    assert route_checks_again(scope("/page"), object()) is False  # not a router at all


def test_mounted_apps_at_every_depth() -> None:
    inner = FastAPI()
    middle = Starlette(routes=[Mount("/inner", app=inner)])
    top = Starlette(routes=[Mount("/middle", app=middle), Route("/", lambda request: PlainTextResponse(""))])
    assert mounted_apps(top.routes) == [middle, inner]
