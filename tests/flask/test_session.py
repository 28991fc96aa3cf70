"""The Flask session read (:mod:`flask_authguard.flask.session`): the rolled cookie through
``g.auth_token``, and the cookies the guard layer adds to a response."""

from __future__ import annotations

import pytest
from conftest import rolled_claims
from werkzeug.datastructures import Headers


def test_rolled_cookie_follows_changes_made_through_g_auth_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard's decoded token is the app's to change (``g.auth_token``): a read after such a
    change is never answered with the cookie made from the unchanged claims."""
    from flask import Flask, g

    from flask_authguard import AuthGuard, get_server_session
    from flask_authguard.core import _clock
    from flask_authguard.core.tokens import jwt as jwt_mod

    secret = "g" * 32
    monkeypatch.setattr(_clock, "now", lambda: 1_700_000_000.25)
    app = Flask(__name__)
    AuthGuard(app, {"secret": secret, "endpoints": False})

    @app.get("/page/<name>")
    def page(name: str) -> str:
        if name != "same":
            g.auth_token["name"] = name
        get_server_session()
        return "ok"

    client = app.test_client(use_cookies=False)
    cookie = "next-auth.session-token=" + jwt_mod.encode(token={"sub": "1", "name": "Ann"}, secret=secret)
    same = client.get("/page/same", headers={"Cookie": cookie}).headers.getlist("Set-Cookie")
    assert rolled_claims(same, secret)["name"] == "Ann"
    # the same cookie again, in the same second, the view changing the name first
    changed = client.get("/page/Bea", headers={"Cookie": cookie}).headers.getlist("Set-Cookie")
    assert changed != same
    assert rolled_claims(changed, secret)["name"] == "Bea"


_SESSION_SET = "next-auth.session-token=new; Path=/; HttpOnly; SameSite=Lax"


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "5")],
        [("Vary", "Cookie")],
        [("vary", "cookie")],
        [("Vary", "Accept-Encoding")],
        [("Vary", "Origin"), ("Vary", "Cookie")],
        [("Vary", "*")],
        [("Set-Cookie", "theme=dark; Path=/")],
        [("SET-COOKIE", _SESSION_SET)],  # already there: not added twice
        [("Set-Cookie", "next-auth.session-token=; Max-Age=0; Path=/")],  # sign-out: its word wins
        [("Date", "Mon"), ("ETag", '"x"'), ("Set-Cookie!", "x")],
    ],
)
def test_pending_cookies_are_what_the_headers_object_path_gives(headers: list[tuple[str, str]]) -> None:
    """The guard layer's list shortcut adds the session's cookies and ``Vary: Cookie`` exactly
    as ``apply_cookies`` and ``vary_on_cookie`` on werkzeug ``Headers`` do."""
    from flask_authguard.core.settings.config import resolve_options
    from flask_authguard.flask.session import _PENDING_KEY, _with_pending
    from flask_authguard.guard.caching import cache_headers, vary_on_cookie
    from flask_authguard.sessions import apply_cookies
    from flask_authguard.sessions.base import SessionResult

    config = resolve_options({"secret": "p" * 32})
    result = SessionResult({"user": {}}, [_SESSION_SET], {"sub": "1"})
    general = Headers(headers)
    apply_cookies(general, result, config, False)
    vary_on_cookie(general)
    got = _with_pending({_PENDING_KEY: {id(config): (result, config, False)}}, list(headers))
    assert cache_headers(got, private=False) == general.to_wsgi_list()
    assert cache_headers(_with_pending({}, list(headers)), private=False) == _vary_only(headers)


def _vary_only(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    from flask_authguard.guard.caching import vary_on_cookie

    general = Headers(headers)
    vary_on_cookie(general)
    return general.to_wsgi_list()
