"""The guard's weak spots from issue 11, one regression test (or table) each, across every
protection mode: ``with_auth``, site-wide (all paths, a matcher list), ``protect(blueprint)`` and
``auth_required``."""

from __future__ import annotations

import pathlib
import typing as t

import pytest
from conftest import SECRET, FrozenClock
from flask import Blueprint, Flask, g
from support.processes import stop
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client
from werkzeug.wrappers import Response

from flask_authguard import AuthGuard, AuthOptions, ConfigurationError, auth_required, with_auth
from flask_authguard.core.settings.config import resolve_options
from flask_authguard.flask.ext import GuardState

V4 = "next-auth.session-token"
MODES = ("with_auth", "site-all", "site-list", "blueprint", "view")


@pytest.fixture
def user(make_token: t.Callable[..., str], frozen_clock: FrozenClock) -> str:
    return make_token(sub="u1", name="Ada", role="user")


def _secret_page(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    """A plain WSGI app serving its protected page for any path and method."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"secret page"]


def make_app(mode: str, options: dict[str, t.Any] | None = None, *, prefix_fix: bool = False) -> t.Any:
    """``/private/page`` protected by ``mode``, as a WSGI app (``ProxyFix(x_prefix=1)`` outside
    when ``prefix_fix``)."""
    opts: dict[str, t.Any] = {"secret": SECRET, **(options or {})}
    app: t.Any
    if mode == "with_auth":
        app = with_auth(_secret_page, opts, matcher=["/private/:path*"])
    else:
        flask_app = Flask(__name__)
        matcher: t.Any = {"site-all": None, "site-list": ["/private/:path*"]}.get(mode, [])
        guard = AuthGuard(flask_app, opts, matcher=matcher)
        bp = Blueprint("private", __name__, url_prefix="/private")
        if mode == "blueprint":
            guard.protect(bp)

        def page() -> str:
            return "secret page"

        if mode == "view":
            page = auth_required(page)
        bp.route("/page", methods=["GET", "POST", "OPTIONS"], provide_automatic_options=False)(page)
        flask_app.register_blueprint(bp)
        app = flask_app.wsgi_app
    return ProxyFix(app, x_prefix=1) if prefix_fix else app


def _get(app: t.Any, path: str = "/private/page", **kwargs: t.Any) -> Response:
    return t.cast(Response, Client(app, Response).open(path, **kwargs))


# --------------------------------------------------------------------------- SCRIPT_NAME


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("prefix", ["/api/auth", "/api/auth/x", "/_next", "/favicon.ico"])
def test_a_client_set_script_name_opens_no_route(mode: str, prefix: str) -> None:
    response = _get(make_app(mode), environ_overrides={"SCRIPT_NAME": prefix})
    assert response.status_code == 307
    assert b"secret" not in response.data


@pytest.mark.parametrize("mode", MODES)
def test_x_forwarded_prefix_through_proxy_fix_opens_no_route(mode: str) -> None:
    app = make_app(mode, prefix_fix=True)
    response = _get(app, headers={"X-Forwarded-Prefix": "/api/auth"})
    assert response.status_code == 307
    assert b"secret" not in response.data
    assert response.headers["Location"].startswith("http://localhost/api/auth/signin?callbackUrl=")


@pytest.mark.parametrize("mode", MODES)
def test_a_mounted_app_still_reaches_its_pages_when_signed_in(mode: str, user: str) -> None:
    client = Client(make_app(mode), Response)
    client.set_cookie(V4, user)
    response = client.get("/private/page", environ_overrides={"SCRIPT_NAME": "/mounted"})
    assert (response.status_code, response.data) == (200, b"secret page")


# --------------------------------------------------------------------------- OPTIONS

PREFLIGHT = {"Origin": "https://spa.example", "Access-Control-Request-Method": "POST"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("options", "headers"),
    [
        pytest.param({}, {}, id="plain-options"),
        pytest.param({}, PREFLIGHT, id="preflight-not-opted-in"),
        pytest.param({"cors_preflight": True}, {}, id="opted-in-but-not-a-preflight"),
        pytest.param({"cors_preflight": True}, {"Origin": "https://spa.example"}, id="origin-only"),
        pytest.param({"cors_preflight": True}, {"Access-Control-Request-Method": "POST"}, id="method-only"),
    ],
)
def test_options_is_checked_like_any_method(
    mode: str, options: dict[str, t.Any], headers: dict[str, str]
) -> None:
    response = _get(make_app(mode, options), method="OPTIONS", headers=headers)
    assert response.status_code == 307
    assert b"secret" not in response.data


@pytest.mark.parametrize("mode", MODES)
def test_a_genuine_preflight_passes_when_opted_in(mode: str) -> None:
    response = _get(make_app(mode, {"cors_preflight": True}), method="OPTIONS", headers=PREFLIGHT)
    assert response.status_code == 200


def test_cors_preflight_config_key_and_bad_values() -> None:
    app = Flask(__name__)
    app.config["AUTHGUARD_CORS_PREFLIGHT"] = True
    AuthGuard(app, {"secret": SECRET})
    assert app.extensions["authguard"].config.cors_preflight is True
    bad = Flask(__name__)
    bad.config["AUTHGUARD_CORS_PREFLIGHT"] = "yes"
    with pytest.raises(ConfigurationError, match="AUTHGUARD_CORS_PREFLIGHT"):
        AuthGuard(bad, {"secret": SECRET})
    with pytest.raises(ConfigurationError, match="cors_preflight"):
        with_auth(_secret_page, {"secret": SECRET, "cors_preflight": 1})


# --------------------------------------------------------------------------- static files


def _static_app(tmp_path: pathlib.Path) -> Flask:
    (tmp_path / "app.css").write_text("body{}")
    bp_static = tmp_path / "bp"
    bp_static.mkdir()
    (bp_static / "admin.js").write_text("1")
    app = Flask(__name__, static_folder=str(tmp_path), static_url_path="/static")
    AuthGuard(app, {"secret": SECRET})  # site-wide
    app.add_url_rule("/static/secret", "secret", lambda: "secret page")
    app.add_url_rule("/named", "x.static", lambda: "secret page")
    app.add_url_rule("/static-ish", "static_", lambda: "secret page")
    admin = Blueprint(
        "admin", __name__, static_folder=str(bp_static), static_url_path="/static", url_prefix="/admin"
    )
    admin.add_url_rule("/static", "static_page", lambda: "secret page")
    app.register_blueprint(admin)
    return app


@pytest.mark.parametrize("path", ["/static/secret", "/named", "/static-ish", "/admin/static"])
def test_user_views_named_or_routed_like_static_are_protected(tmp_path: pathlib.Path, path: str) -> None:
    response = _static_app(tmp_path).test_client().get(path)
    assert response.status_code == 307
    assert b"secret" not in response.data


@pytest.mark.parametrize(
    ("path", "status"),
    [("/static/app.css", 200), ("/static/missing.css", 404), ("/admin/static/admin.js", 200)],
)
def test_the_real_static_files_stay_public(tmp_path: pathlib.Path, path: str, status: int) -> None:
    response = _static_app(tmp_path).test_client().get(path)
    assert response.status_code == status
    response.close()


# --------------------------------------------------------------------------- shared caches


def _cache_app(mode: str, cache_control: str | None) -> t.Any:
    """``make_app``'s protection, the protected page answering with ``cache_control``, plus a
    public ``/open`` page."""
    headers = [("Content-Type", "text/plain")]
    if cache_control:
        headers.append(("Cache-Control", cache_control))

    def page(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        start_response("200 OK", [*headers, ("Vary", "Accept-Encoding")])
        return [b"secret page"]

    opts = {"secret": SECRET}
    if mode == "with_auth":
        return with_auth(page, opts, matcher=["/private/:path*"])
    app = Flask(__name__)
    guard = AuthGuard(app, opts, matcher={"site-all": None, "site-list": ["/private/:path*"]}.get(mode, []))
    bp = Blueprint("private", __name__, url_prefix="/private")
    if mode == "blueprint":
        guard.protect(bp)

    def view() -> Response:
        return Response("secret page", headers=[*headers, ("Vary", "Accept-Encoding")])

    bp.get("/page")(auth_required(view) if mode == "view" else view)
    app.register_blueprint(bp)
    app.get("/open")(guard.exempt(lambda: "open") if mode == "site-all" else lambda: "open")
    return app


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(None, {"private"}, id="none"),
        pytest.param("public, max-age=60, s-maxage=600", {"private", "max-age=60"}, id="public"),
        pytest.param("no-store", {"no-store"}, id="no-store-kept"),
        pytest.param("private, max-age=5", {"private", "max-age=5"}, id="private-kept"),
    ],
)
def test_guarded_responses_are_private_and_vary_on_cookie(
    mode: str, given: str | None, expected: set[str], user: str
) -> None:
    client = Client(_cache_app(mode, given), Response)
    anonymous = client.get("/private/page")
    assert anonymous.status_code == 307
    assert anonymous.vary.as_set() >= {"cookie"}
    assert "private" in anonymous.headers["Cache-Control"]
    client.set_cookie(V4, user)
    signed_in = client.get("/private/page")
    assert signed_in.status_code == 200
    assert signed_in.vary.as_set() == {"accept-encoding", "cookie"}
    assert {v.strip() for v in signed_in.headers["Cache-Control"].split(",")} == expected


@pytest.mark.parametrize("mode", MODES)
def test_refusals_keep_no_store_and_public_pages_are_unchanged(mode: str) -> None:
    client = Client(_cache_app(mode, None), Response)
    api = client.get("/private/page", headers={"Accept": "application/json"})
    assert (api.status_code, api.headers["Cache-Control"]) == (401, "no-store")
    assert "Cookie" in api.headers["Vary"]
    public = client.get("/open")
    assert public.status_code == 200
    assert public.headers.get("Vary") == ("Accept-Encoding" if mode == "with_auth" else None)
    assert "Cache-Control" not in public.headers


# --------------------------------------------------------------------------- repr


def test_repr_of_options_and_config_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    adapter = SQLAlchemyAdapter("postgresql://app:db-password-1@127.0.0.1:5432/test")
    options = AuthOptions(
        secret=["newest-secret-1", "older-secret-2"],
        url="https://user:url-password-3@example.com/api/auth",
        adapter=adapter,
    )
    monkeypatch.setenv("NEXTAUTH_SECRET", "env-secret-4")
    shown = [
        repr(options),
        str(options),
        repr(resolve_options(options)),
        repr(resolve_options({"secret": "dict-secret-5"})),
        repr(resolve_options(None)),  # the secret from the environment
    ]
    app = Flask(__name__)
    AuthGuard(app, {"secret": "flask-secret-6"})
    state: GuardState = app.extensions["authguard"]
    shown += [repr(state), repr(state.config), repr(state.guard.options)]
    text = "\n".join(shown)
    secrets = ("newest-secret-1", "older-secret-2", "url-password-3", "db-password-1", "env-secret-4")
    for secret in (*secrets, "dict-secret-5", "flask-secret-6"):
        assert secret not in text
    assert "secret=[***, ***]" in shown[0] and "secrets=[***]" in shown[3]
    assert "https://user:***@example.com/api/auth" in shown[0]
    bad_port = repr(AuthOptions(url="https://u:pw-7@x.example:99999/"))  # repr never raises
    assert "pw-7" not in bad_port and "u:***@x.example:99999" in bad_port
    assert "SQLAlchemyAdapter postgresql+psycopg://app:***@127.0.0.1:5432/test" in shown[0]


# --------------------------------------------------------------------------- trusted hosts


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("example.com", 307),
        ("example.com:8080", 307),
        ("www.example.com", 307),
        ("evil.example", 400),
        ("example.com.evil.example", 400),
    ],
)
def test_trusted_hosts_limit_the_redirect_origin(mode: str, host: str, status: int) -> None:
    app = make_app(mode, {"trusted_hosts": ["example.com", ".www.example.com"]})
    response = _get(app, base_url=f"http://{host}")
    assert response.status_code == status
    if status == 307:
        assert response.headers["Location"].startswith(f"http://{host}/api/auth/signin?")
    else:
        assert "Location" not in response.headers and b"secret" not in response.data


def test_flask_trusted_hosts_and_the_config_key_are_honoured() -> None:
    for key in ("TRUSTED_HOSTS", "AUTHGUARD_TRUSTED_HOSTS"):
        app = Flask(__name__)
        app.config[key] = ["example.com"]
        AuthGuard(app, {"secret": SECRET})
        assert app.extensions["authguard"].config.trusted_hosts == ("example.com",)
        app.get("/page")(lambda: "secret page")
        assert app.test_client().get("/page", base_url="http://example.com").status_code == 307
        assert app.test_client().get("/page", base_url="http://evil.example").status_code == 400


@pytest.mark.parametrize(
    "value", ["example.com", [], [""], ["a b"], ["https://example.com"], [3], {"example.com": 1}]
)
def test_bad_trusted_hosts_fail_at_start_up(value: t.Any) -> None:
    with pytest.raises(ConfigurationError, match="trusted_hosts"):
        resolve_options({"secret": SECRET, "trusted_hosts": value})


def test_trusted_host_is_the_one_check_for_every_origin() -> None:
    from werkzeug.test import EnvironBuilder

    from flask_authguard.core.defences.hosts import trusted_host

    environ = EnvironBuilder(base_url="http://evil.example:81").get_environ()
    assert trusted_host(environ, None) == "evil.example:81"
    assert trusted_host(environ, ("example.com",)) is None
    assert trusted_host(environ, (".evil.example",)) == "evil.example:81"


# --------------------------------------------------------------------------- options at start-up


@pytest.mark.parametrize(
    ("options", "key"),
    [
        pytest.param({"pages": {"sign_in": "/log in"}}, "pages.sign_in", id="page-space"),
        pytest.param({"pages": {"sign_in": "/login\r\nX: 1"}}, "pages.sign_in", id="page-crlf"),
        pytest.param({"pages": {"error": "//evil.example/e"}}, "pages.error", id="page-protocol-relative"),
        pytest.param({"pages": {"sign_out": "ftp://x.example/"}}, "pages.sign_out", id="page-not-http"),
        pytest.param({"pages": {"sign_in": "https://x.example:99999/"}}, "pages.sign_in", id="page-bad-port"),
        pytest.param({"pages": {"sign_in": 3}}, "pages.sign_in", id="page-not-text"),
        pytest.param({"url": "https://x.example:99999"}, "url", id="url-bad-port"),
        pytest.param({"url": "https://x.example/a b"}, "url", id="url-space"),
        pytest.param({"url": "ftp://x.example"}, "url", id="url-not-http"),
        pytest.param({"base_path": "/api/auth?x"}, "base_path", id="base-path-query"),
        pytest.param({"base_path": "//evil"}, "base_path", id="base-path-double-slash"),
        pytest.param({"base_path": "api/auth"}, "base_path", id="base-path-relative"),
        pytest.param({"session": {"max_age": 10**12}}, "session.max_age", id="max-age-overflows-expires"),
        pytest.param({"jwt": {"max_age": 10**12}}, "jwt.max_age", id="jwt-max-age-overflows"),
        pytest.param({"use_secure_cookies": "yes"}, "use_secure_cookies", id="secure-not-bool"),
        pytest.param({"endpoints": "no"}, "endpoints", id="endpoints-not-bool"),
        pytest.param({"cors_preflight": "yes"}, "cors_preflight", id="preflight-not-bool"),
        pytest.param(
            {"cookies": {"session_token": {"name": "a b"}}}, "cookies.session_token.name", id="cookie-name"
        ),
        pytest.param(
            {"cookies": {"session_token": {"name": "s", "options": {"sameSite": "sometimes"}}}},
            "cookies.session_token.options.sameSite",
            id="cookie-same-site",
        ),
        pytest.param(
            {"cookies": {"csrf_token": {"name": "c", "options": {"path": "x"}}}},
            "cookies.csrf_token.options.path",
            id="cookie-path",
        ),
        pytest.param(
            {"cookies": {"csrf_token": {"name": "c", "options": {"path": "/a;b"}}}},
            "cookies.csrf_token.options.path",
            id="cookie-path-semicolon",
        ),
        pytest.param(
            {"cookies": {"callback_url": {"name": "c", "options": {"secure": "1"}}}},
            "cookies.callback_url.options.secure",
            id="cookie-secure",
        ),
        pytest.param(
            {"cookies": {"session_token": {"name": "s", "options": {"domain": "a;b"}}}},
            "cookies.session_token.options.domain",
            id="cookie-domain",
        ),
    ],
)
def test_bad_values_fail_at_start_up_naming_the_key(options: dict[str, t.Any], key: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_options({"secret": SECRET, **options})
    assert str(info.value).startswith(key)


@pytest.mark.parametrize("form", ["options", "with_auth", "config-key", "error-without-secret"])
def test_a_page_without_a_leading_slash_is_resolved_against_the_site(form: str) -> None:
    app: t.Any
    if form == "with_auth":
        app = with_auth(_secret_page, {"secret": SECRET, "pages": {"sign_in": "login"}})
    elif form == "error-without-secret":
        app = with_auth(_secret_page, {"pages": {"error": "oops"}})
    else:
        flask_app = Flask(__name__)
        if form == "config-key":
            flask_app.config["AUTHGUARD_SIGN_IN_PAGE"] = "login"
            AuthGuard(flask_app, {"secret": SECRET})
        else:
            AuthGuard(flask_app, {"secret": SECRET, "pages": {"sign_in": "login"}})
        flask_app.get("/private/page")(lambda: "secret page")
        app = flask_app
    response = _get(app, base_url="http://localhost:5007")
    assert response.status_code == 307
    page = "/oops?error=Configuration" if form == "error-without-secret" else "/login?callbackUrl="
    assert response.headers["Location"].startswith(f"http://localhost:5007{page}")
    assert _get(app, page.split("?")[0], base_url="http://localhost:5007").status_code != 307  # no loop


# --------------------------------------------------------------------------- cookie tossing


def _chunks(token: str, size: int = 3933) -> list[tuple[str, str]]:
    return [(f"{V4}.{i}", token[j : j + size]) for i, j in enumerate(range(0, len(token), size))]


def _read(cookies: list[tuple[str, str]]) -> t.Any:
    from werkzeug.test import EnvironBuilder

    from flask_authguard import get_token

    environ = EnvironBuilder().get_environ()
    environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in cookies)
    token = get_token(environ, secret=SECRET)
    return None if token is None else t.cast(dict[str, t.Any], token)["sub"]


@pytest.fixture
def pair(make_token: t.Callable[..., str], frozen_clock: FrozenClock) -> dict[str, str]:
    big = "x" * 6000
    return {
        "victim": make_token(sub="victim"),
        "victim_big": make_token(sub="victim", pad=big),
        "victim_newer_big": make_token(sub="victim", pad=big, max_age=7200),
        "attacker": make_token(sub="attacker"),
        "attacker_big": make_token(sub="attacker", pad=big),
    }


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        pytest.param(lambda p: [(V4, p["victim"]), *_chunks(p["attacker_big"])], None, id="bare+chunks"),
        pytest.param(lambda p: [*_chunks(p["attacker_big"]), (V4, p["victim"])], None, id="chunks-first"),
        pytest.param(lambda p: [*_chunks(p["victim_big"]), (V4, p["attacker"])], None, id="chunks+bare"),
        pytest.param(lambda p: [(V4, p["attacker"]), (V4, p["victim"])], None, id="duplicate-bare"),
        pytest.param(
            lambda p: [*_chunks(p["attacker_big"]), *_chunks(p["victim_big"])], None, id="duplicate-chunks"
        ),
        # Duplicate chunks are read in every way they assemble: the attacker's set is one of
        # them, so two identities are seen and the bare cookie cannot decide (it could be the
        # attacker's as well).
        pytest.param(
            lambda p: [*_chunks(p["attacker_big"]), *_chunks(p["victim_big"]), (V4, p["victim"])],
            None,
            id="duplicate-chunks-both-identities-seen",
        ),
        # One tossed chunk: only the victim's own set assembles into a token.
        pytest.param(
            lambda p: [(f"{V4}.0", _chunks(p["attacker_big"])[0][1]), *_chunks(p["victim_big"])],
            "victim",
            id="one-tossed-chunk",
        ),
        pytest.param(lambda p: [(V4, p["victim"]), (f"{V4}.0", "garbage")], "victim", id="garbage-chunk"),
        pytest.param(
            lambda p: [(V4, p["victim"]), *_chunks(p["victim_newer_big"])], "victim", id="same-identity"
        ),
        pytest.param(
            lambda p: [*_chunks(p["victim_big"]), (f"{V4}.{len(_chunks(p['victim_big']))}", "stale")],
            "victim",
            id="stale-trailing-chunk",
        ),
    ],
)
def test_inconsistent_cookies_never_yield_another_identity(
    pair: dict[str, str], layout: t.Callable[[dict[str, str]], list[tuple[str, str]]], expected: str | None
) -> None:
    assert _read(layout(pair)) == expected


def test_a_tossed_cookie_signs_the_victim_out_of_a_protected_page(pair: dict[str, str]) -> None:
    client = Client(make_app("with_auth"), Response)
    for name, value in [(V4, pair["victim"]), *_chunks(pair["attacker_big"])]:
        client.set_cookie(name, value)
    assert client.get("/private/page").status_code == 307
    client.delete_cookie(V4)
    assert client.get("/private/page").status_code == 200  # the chunks alone: a session, as ever


# --------------------------------------------------------------------------- lazy g.auth_token


def _database_app(tmp_path: pathlib.Path, calls: list[str], read_in_hook: bool) -> Flask:
    import datetime as dt

    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    adapter = SQLAlchemyAdapter(f"sqlite:///{tmp_path / 'db.sqlite'}", create_tables=True)
    user = adapter.create_user({"name": "Ann", "email": "a@x.example", "emailVerified": None, "image": None})
    expires = dt.datetime.fromtimestamp(2_000_000_000, dt.timezone.utc)
    adapter.create_session({"sessionToken": "tok-1", "userId": user["id"], "expires": expires})
    original = adapter.get_session_and_user

    def counted(token: str) -> t.Any:
        calls.append(token)
        return original(token)

    adapter.get_session_and_user = counted  # type: ignore[method-assign]
    (tmp_path / "app.css").write_text("body{}")
    app = Flask(__name__, static_folder=str(tmp_path), static_url_path="/static")
    AuthGuard(app, {"secret": SECRET, "adapter": adapter}, matcher=["/private"])
    seen: list[t.Any] = []
    app.config["SEEN"] = seen
    if read_in_hook:

        @app.before_request
        def hook() -> None:
            seen.append(g.auth_token["name"] if g.auth_token else None)

    app.get("/public")(lambda: {"token": g.auth_token})
    app.add_url_rule("/public/plain", "plain", lambda: "no token read here")
    app.add_url_rule(
        "/public/is-none", "is_none", lambda: {"none": g.auth_token is None, "has": "auth_token" in g}
    )
    return app


def test_a_static_file_costs_no_session_query(tmp_path: pathlib.Path, frozen_clock: FrozenClock) -> None:
    calls: list[str] = []
    client = _database_app(tmp_path, calls, read_in_hook=False).test_client()
    client.set_cookie(V4, "tok-1")
    for _ in range(3):
        with client.get("/static/app.css") as response:
            assert response.status_code == 200
    assert calls == []
    assert client.get("/public").json["token"]["name"] == "Ann"  # public pages still get the token
    assert calls == ["tok-1"]


def test_g_auth_token_on_a_static_file_resolves_on_first_use(
    tmp_path: pathlib.Path, frozen_clock: FrozenClock
) -> None:
    calls: list[str] = []
    app = _database_app(tmp_path, calls, read_in_hook=True)
    client = app.test_client()
    client.set_cookie(V4, "tok-1")
    with client.get("/static/app.css") as response:
        assert response.status_code == 200
    assert (app.config["SEEN"], calls) == (["Ann"], ["tok-1"])  # asked for: one query, once


def _database_pair(tmp_path: pathlib.Path) -> tuple[Flask, list[str]]:
    """A guarded app on database sessions with two users' sessions: tok-victim, tok-attacker."""
    import datetime as dt

    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    adapter = SQLAlchemyAdapter(f"sqlite:///{tmp_path / 'pair.sqlite'}", create_tables=True)
    expires = dt.datetime.fromtimestamp(2_000_000_000, dt.timezone.utc)
    for name in ("victim", "attacker"):
        user = adapter.create_user(
            {"name": name, "email": f"{name}@x.example", "emailVerified": None, "image": None}
        )
        adapter.create_session({"sessionToken": f"tok-{name}", "userId": user["id"], "expires": expires})
    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET, "adapter": adapter}, matcher=["/private"])
    app.get("/private")(lambda: {"name": g.auth_token["name"]})
    return app, []


@pytest.mark.parametrize(
    "cookie, name",
    [
        pytest.param(f"{V4}=tok-victim", "victim", id="bare"),
        pytest.param(f"{V4}.0=tok-attacker; {V4}=tok-victim", "victim", id="planted-chunk-first"),
        pytest.param(f"{V4}=tok-victim; {V4}.0=tok-attacker", "victim", id="planted-chunk-after"),
        pytest.param(f"{V4}.0=tok-attacker", None, id="chunk-only"),
        pytest.param(f"{V4}=tok-attacker; {V4}=tok-victim", None, id="two-bare-cookies"),
        pytest.param(f'a="x; {V4}=tok-victim; b=y"; {V4}=tok-attacker', None, id="quote-hides-the-victim"),
    ],
)
def test_planted_cookies_never_swap_a_database_session(
    tmp_path: pathlib.Path, frozen_clock: FrozenClock, cookie: str, name: str | None
) -> None:
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    app, _ = _database_pair(tmp_path)
    environ = EnvironBuilder(path="/private", headers={"Cookie": cookie}).get_environ()
    body, status, _headers = run_wsgi_app(app, environ, buffered=True)
    if name is None:  # no session rather than a guess: the sign-in redirect
        assert status.startswith("307")
    else:
        assert status.startswith("200") and b"".join(body) == b'{"name":"' + name.encode() + b'"}\n'


def test_planted_cookies_never_swap_a_jwt_session(frozen_clock: FrozenClock) -> None:
    """The guard and the session route, on a chunked JWT session with cookies planted around it
    (a sibling subdomain can): the victim's session, or none, never the attacker's."""
    from flask_authguard import encode

    victim = encode(token={"sub": "victim", "blob": "x" * 5000}, secret=SECRET, max_age=3600)
    attacker = encode(token={"sub": "attacker"}, secret=SECRET, max_age=3600)
    plain = encode(token={"sub": "victim"}, secret=SECRET, max_age=3600)
    first, second = victim[:3933], victim[3933:]
    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET}, matcher=["/private"])
    app.get("/private")(lambda: {"sub": g.auth_token["sub"]})
    chunks = f"{V4}.0={first}; {V4}.1={second}"
    for cookie, sub in [
        (chunks, "victim"),
        (f"{chunks}; {V4}.1=junk", "victim"),
        (f"{chunks}; {V4}.1=junk; {V4}={attacker}", None),
        (f'a="x; {V4}={plain}; b=y"; {V4}={attacker}', None),
    ]:
        client = Client(app, use_cookies=False)  # the header as it is, not the client's jar
        private = client.get("/private", headers={"Cookie": cookie})
        session = client.get("/api/auth/session", headers={"Cookie": cookie})
        if sub is None:
            assert private.status_code == 307 and session.json == {}, cookie[-80:]
        else:
            assert private.json == {"sub": sub} and "expires" in session.json, cookie[-80:]


def test_a_public_page_that_never_reads_the_token_costs_no_query(
    tmp_path: pathlib.Path, frozen_clock: FrozenClock
) -> None:
    calls: list[str] = []
    client = _database_app(tmp_path, calls, read_in_hook=False).test_client()
    client.set_cookie(V4, "tok-1")
    assert client.get("/public/plain").text == "no token read here"
    assert calls == []
    # read: a plain value (is None works), decoded once however often it is read
    assert client.get("/public/is-none").json == {"none": False, "has": True}
    assert calls == ["tok-1"]
    client.delete_cookie(V4)
    assert client.get("/public/is-none").json == {"none": True, "has": True}


def test_g_auth_token_does_not_leak_between_requests_of_one_app_context(
    tmp_path: pathlib.Path, frozen_clock: FrozenClock
) -> None:
    calls: list[str] = []
    app = _database_app(tmp_path, calls, read_in_hook=False)
    client = app.test_client()
    with app.app_context():  # an app context pushed by hand is reused by the requests inside it
        client.set_cookie(V4, "tok-1")
        assert client.get("/public").json["token"]["name"] == "Ann"
        client.delete_cookie(V4)
        assert client.get("/public").json["token"] is None


# --------------------------------------------------------------------------- get_server_session late


@pytest.mark.parametrize("where", ["app-hook-before-init", "app-hook-after-init", "blueprint-hook", "view"])
def test_get_server_session_in_after_request_writes_its_cookie(where: str, user: str) -> None:
    from flask_authguard import get_server_session

    app = Flask(__name__)
    seen: list[t.Any] = []

    def hook(response: Response) -> Response:
        seen.append(get_server_session())
        return response

    if where == "app-hook-before-init":
        app.after_request(hook)
    AuthGuard(app, {"secret": SECRET})
    if where == "app-hook-after-init":
        app.after_request(hook)
    bp = Blueprint("bp", __name__)
    if where == "blueprint-hook":
        bp.after_request(hook)

    @bp.get("/page")
    def page() -> str:
        if where == "view":
            seen.append(get_server_session())
        return "page"

    app.register_blueprint(bp)
    client = app.test_client()
    client.set_cookie(V4, user)
    response = client.get("/page")
    assert response.status_code == 200
    assert seen and seen[0]["user"]["name"] == "Ada"
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 1 and cookies[0].startswith(f"{V4}=")
    assert "Cookie" in response.headers["Vary"]


# --------------------------------------------------------------------------- a real gunicorn

_GUNICORN_APP = """
from flask import Flask
from flask_authguard import AuthGuard, with_auth

def page(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"secret page"]

plain = with_auth(page, {"secret": "%s"}, matcher=["/private/:path*"])
flask_app = Flask(__name__)
AuthGuard(flask_app, {"secret": "%s"}, matcher=["/private/:path*"])
flask_app.get("/private/page")(lambda: "secret page")
"""


@pytest.mark.parametrize("target", ["plain", "flask_app"])
def test_gunicorn_script_name_header_opens_no_route(target: str, tmp_path: pathlib.Path) -> None:
    """gunicorn takes ``SCRIPT_NAME`` from a header of its forwarders (loopback by default)."""
    import http.client
    import os
    import socket
    import subprocess
    import sys
    import time

    pytest.importorskip("gunicorn", reason="gunicorn (the bench extra) is not installed")
    (tmp_path / "guni_app.py").write_text(_GUNICORN_APP % (SECRET, SECRET))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    argv = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", f"guni_app:{target}"]
    quiet = subprocess.DEVNULL
    process = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=quiet, stderr=quiet)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/api/auth/private/page", headers={"SCRIPT_NAME": "/api/auth"})
                response = conn.getresponse()
                break
            except ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        body = response.read()
        conn.close()
        assert response.status == 307, body
        assert b"secret" not in body
        assert "callbackUrl=%2Fapi%2Fauth%2Fprivate%2Fpage" in (response.getheader("Location") or "")
    finally:
        stop(process)
