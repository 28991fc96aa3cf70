"""``AuthGuard``: app factories and several apps, config keys, ``g.auth_token``, every protection
mode, async views, and ``get_server_session()`` from anywhere in a Flask request."""

from __future__ import annotations

import json
import logging
import pathlib
import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import SECRET, FrozenClock
from flask import Blueprint, Flask, abort, g, render_template_string, request
from flask.views import MethodView, View
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from flask_authguard import (
    TOKEN_ENVIRON_KEY,
    AuthGuard,
    AuthOptions,
    ConfigurationError,
    auth_required,
    decode,
    get_server_session,
)
from flask_authguard.flask.ext import CONFIG_KEYS, GuardState, current_token, merged_options, state_of
from flask_authguard.sessions import base as session_mod

V4 = "next-auth.session-token"
V5 = "authjs.session-token"
JSON = {"Accept": "application/json"}


def role_is(role: str) -> t.Callable[..., bool]:
    def authorized(*, token: t.Any, **_: t.Any) -> bool:
        return isinstance(token, dict) and token.get("role") == role

    return authorized


def set_cookie_headers(response: t.Any) -> list[str]:
    return list(response.headers.getlist("Set-Cookie"))


def parsed(header: str) -> tuple[str, str, tuple[str, ...]]:
    """A Set-Cookie header as (name, value, sorted attributes): their order does not matter."""
    first, *attributes = header.split("; ")
    name, _, value = first.partition("=")
    return name, value, tuple(sorted(attributes))


#: next-auth's deletion of the session cookie.
DELETED = ("next-auth.session-token", "", ("HttpOnly", "Max-Age=0", "Path=/", "SameSite=Lax"))


def cookie_names(response: t.Any) -> list[str]:
    return [h.split("=", 1)[0] for h in set_cookie_headers(response)]


def cookie_value(response: t.Any, name: str) -> str | None:
    for header in set_cookie_headers(response):
        key, _, rest = header.partition("=")
        if key == name:
            return rest.split(";", 1)[0]
    return None


@pytest.fixture
def static_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    (tmp_path / "app.css").write_text("body{}")
    return tmp_path


@pytest.fixture
def user(make_token: t.Callable[..., str], frozen_clock: FrozenClock) -> str:
    return make_token(sub="u1", name="Ada", email="ada@example.com", role="user")


@pytest.fixture
def admin(make_token: t.Callable[..., str], frozen_clock: FrozenClock) -> str:
    return make_token(sub="a1", name="Grace", role="admin")


@pytest.fixture
def encodes(monkeypatch: pytest.MonkeyPatch) -> list[t.Any]:
    seen: list[t.Any] = []
    real = session_mod.jwe_encode

    def counting(**kwargs: t.Any) -> str:
        seen.append(kwargs["token"])
        return real(**kwargs)

    monkeypatch.setattr(session_mod, "jwe_encode", counting)
    return seen


# --------------------------------------------------------------------------- the extension


def test_init_app_keeps_state_in_extensions_and_nothing_on_the_guard() -> None:
    guard = AuthGuard(options={"secret": SECRET})
    app = Flask(__name__)
    guard.init_app(app)
    state = app.extensions["authguard"]
    assert isinstance(state, GuardState) and state.guard is guard
    assert state.config.secrets == (SECRET,)
    assert not hasattr(guard, "app")
    with app.app_context():
        assert state_of() is state


def test_app_factory_and_several_apps_with_one_guard(
    make_token: t.Callable[..., str], frozen_clock: FrozenClock
) -> None:
    guard = AuthGuard(options={"secret": SECRET}, matcher=["/private"])

    def create_app(**config: t.Any) -> Flask:
        app = Flask(__name__)
        app.config.update(config)

        @app.get("/private")
        def private() -> dict[str, t.Any]:
            return {"sub": g.auth_token["sub"], "app": app.name, "session": get_server_session()}

        guard.init_app(app)
        return app

    first = create_app()
    second = create_app(
        AUTHGUARD_SECRET="second-app-secret-0123456789abcdef", AUTHGUARD_SIGN_IN_PAGE="/login"
    )
    assert first.extensions["authguard"].config is not second.extensions["authguard"].config
    token_first = make_token(sub="one")
    token_second = make_token(sub="two", secret="second-app-secret-0123456789abcdef")

    c1, c2 = first.test_client(), second.test_client()
    c1.set_cookie(V4, token_first)
    c2.set_cookie(V4, token_second)
    assert c1.get("/private").json["sub"] == "one"
    assert c2.get("/private").json["sub"] == "two"
    # each app knows only its own secret and pages
    c1.set_cookie(V4, token_second)
    assert c1.get("/private").headers["Location"].startswith("http://localhost/api/auth/signin?")
    c2.set_cookie(V4, token_first)
    assert c2.get("/private").headers["Location"].startswith("http://localhost/login?")


def test_init_app_twice_is_an_error() -> None:
    app = Flask(__name__)
    guard = AuthGuard(app, {"secret": SECRET})
    with pytest.raises(ConfigurationError, match="already initialised"):
        guard.init_app(app)
    with pytest.raises(ConfigurationError, match="already initialised"):
        AuthGuard(app, {"secret": SECRET})


def test_every_config_key_is_registered_with_a_none_default() -> None:
    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET})
    assert all(key in app.config and app.config[key] is None for key in CONFIG_KEYS)


def test_bad_options_fail_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="unknown key"):
        AuthGuard(options={"secrett": SECRET})
    with pytest.raises(ConfigurationError, match="matcher pattern"):
        AuthGuard(Flask(__name__), {"secret": SECRET}, matcher=["no-slash"])


@pytest.mark.parametrize(
    ("key", "value", "option", "expected"),
    [
        pytest.param(
            "AUTHGUARD_SECRET",
            "from-config-0123456789abcdef",
            "secrets",
            ("from-config-0123456789abcdef",),
            id="secret",
        ),
        pytest.param(
            "AUTHGUARD_SECRET",
            ["new-0123456789abcdef", "old-0123456789abcdef"],
            "secrets",
            ("new-0123456789abcdef", "old-0123456789abcdef"),
            id="secret-list",
        ),
        pytest.param("AUTHGUARD_VERSION", 5, "version", 5, id="version"),
        pytest.param("AUTHGUARD_URL", "https://example.com/auth", "base_path", "/auth", id="url"),
        pytest.param("AUTHGUARD_BASE_PATH", "/auth", "base_path", "/auth", id="base-path"),
        pytest.param("AUTHGUARD_SIGN_IN_PAGE", "/login", "sign_in_page", "/login", id="sign-in-page"),
        pytest.param("AUTHGUARD_SIGN_OUT_PAGE", "/logout", "sign_out_page", "/logout", id="sign-out-page"),
        pytest.param("AUTHGUARD_ERROR_PAGE", "/oops", "error_page", "/oops", id="error-page"),
        pytest.param(
            "AUTHGUARD_VERIFY_REQUEST_PAGE", "/inbox", "verify_request_page", "/inbox", id="verify-page"
        ),
        pytest.param("AUTHGUARD_SESSION_STRATEGY", "jwt", "strategy", "jwt", id="strategy"),
        pytest.param("AUTHGUARD_SESSION_MAX_AGE", 600, "session_max_age", 600, id="session-max-age"),
        pytest.param("AUTHGUARD_SESSION_UPDATE_AGE", 60, "update_age", 60, id="update-age"),
        pytest.param("AUTHGUARD_JWT_MAX_AGE", 120, "jwt_max_age", 120, id="jwt-max-age"),
        pytest.param("AUTHGUARD_USE_SECURE_COOKIES", True, "secure", True, id="secure-cookies"),
        pytest.param("AUTHGUARD_API_MODE", "json", "api_mode", "json", id="api-mode"),
        pytest.param("AUTHGUARD_TRUST_HOST", True, "trust_host", True, id="trust-host"),
    ],
)
def test_config_key_overrides_the_option(key: str, value: t.Any, option: str, expected: t.Any) -> None:
    app = Flask(__name__)
    app.config[key] = value
    AuthGuard(app, AuthOptions(secret=SECRET, version=4, session={"max_age": 99}))
    assert getattr(app.extensions["authguard"].config, option) == expected


def test_config_keys_leave_the_guards_options_alone() -> None:
    options = AuthOptions(secret=SECRET)
    guard = AuthGuard(options=options)
    app = Flask(__name__)
    app.config["AUTHGUARD_SESSION_MAX_AGE"] = 10
    guard.init_app(app)
    plain = Flask(__name__)
    guard.init_app(plain)
    assert app.extensions["authguard"].config.session_max_age == 10
    assert plain.extensions["authguard"].config.session_max_age == 30 * 24 * 60 * 60


def test_endpoints_config_key_turns_the_auth_routes_off() -> None:
    app = Flask(__name__)
    app.config["AUTHGUARD_ENDPOINTS"] = False
    AuthGuard(app, {"secret": SECRET}, matcher=[])
    assert app.test_client().get("/api/auth/csrf").status_code == 404
    on = Flask(__name__)
    AuthGuard(on, {"secret": SECRET}, matcher=[])
    assert on.test_client().get("/api/auth/csrf").status_code == 200


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("AUTHGUARD_SECRET", 12345, id="secret-number"),
        pytest.param("AUTHGUARD_SECRET", ["ok-secret", ""], id="secret-list-with-empty"),
        pytest.param("AUTHGUARD_VERSION", 6, id="version-6"),
        pytest.param("AUTHGUARD_VERSION", "4", id="version-string"),
        pytest.param("AUTHGUARD_VERSION", True, id="version-bool"),
        pytest.param("AUTHGUARD_BASE_PATH", "auth", id="base-path-relative"),
        pytest.param("AUTHGUARD_SIGN_IN_PAGE", "", id="sign-in-empty"),
        pytest.param("AUTHGUARD_SESSION_STRATEGY", "cookie", id="strategy-unknown"),
        pytest.param("AUTHGUARD_SESSION_MAX_AGE", "3600", id="max-age-string"),
        pytest.param("AUTHGUARD_SESSION_MAX_AGE", -1, id="max-age-negative"),
        pytest.param("AUTHGUARD_SESSION_MAX_AGE", 1.5, id="max-age-float"),
        pytest.param("AUTHGUARD_JWT_MAX_AGE", False, id="jwt-max-age-bool"),
        pytest.param("AUTHGUARD_USE_SECURE_COOKIES", "yes", id="secure-string"),
        pytest.param("AUTHGUARD_API_MODE", "xml", id="api-mode-unknown"),
        pytest.param("AUTHGUARD_ENDPOINTS", 0, id="endpoints-int"),
        pytest.param("AUTHGUARD_TRUST_HOST", "yes", id="trust-host-string"),
    ],
)
def test_bad_config_values_fail_at_init_app_naming_the_key(key: str, value: t.Any) -> None:
    app = Flask(__name__)
    app.config[key] = value
    with pytest.raises(ConfigurationError, match=key) as info:
        AuthGuard(app, {"secret": SECRET})
    assert "authguard" not in app.extensions
    if key == "AUTHGUARD_SECRET":
        assert "ok-secret" not in str(info.value) and "12345" not in str(info.value)


def test_a_config_value_the_options_refuse_still_fails_at_init_app() -> None:
    app = Flask(__name__)
    app.config["AUTHGUARD_SESSION_STRATEGY"] = "database"  # no adapter
    with pytest.raises(ConfigurationError, match="adapter"):
        AuthGuard(app, {"secret": SECRET})


def test_merged_options_does_not_touch_the_given_options() -> None:
    options = AuthOptions(secret=SECRET)
    merged = merged_options(options, {"AUTHGUARD_SESSION_MAX_AGE": 5, "AUTHGUARD_SECRET": None})
    assert merged.session.max_age == 5 and merged.secret == SECRET  # type: ignore[union-attr]
    assert options.session.max_age == 30 * 24 * 60 * 60  # type: ignore[union-attr]


def test_missing_secret_warns_at_start_and_redirects_per_request(caplog: pytest.LogCaptureFixture) -> None:
    app = Flask(__name__)
    with caplog.at_level(logging.WARNING, logger="flask_authguard"):
        AuthGuard(app)
    assert "no secret configured" in caplog.text

    @app.get("/")
    def index() -> str:
        return "home"

    response = app.test_client().get("/")
    assert response.status_code == 307
    assert response.headers["Location"] == "http://localhost/api/auth/error?error=Configuration"


def test_get_server_session_without_a_guard_needs_options(user: str) -> None:
    app = Flask(__name__)

    @app.get("/")
    def index() -> t.Any:
        return {"session": get_server_session({"secret": SECRET})}

    @app.get("/bare")
    def bare() -> t.Any:
        return {"session": get_server_session()}

    client = app.test_client()
    client.set_cookie(V4, user)
    response = client.get("/")
    assert response.json["session"]["user"]["name"] == "Ada"
    # no guard layer in front: the rolled cookie and Vary come from an after_this_request function
    assert [c.split("=", 1)[0] for c in response.headers.getlist("Set-Cookie")] == [V4]
    assert response.headers["Vary"] == "Cookie"
    app.testing = True
    with pytest.raises(ConfigurationError, match="not initialised"):
        client.get("/bare")


# --------------------------------------------------------------------------- g.auth_token


@pytest.fixture
def token_app(static_dir: pathlib.Path) -> Flask:
    app = Flask(__name__, static_folder=str(static_dir), static_url_path="/static")
    guard = AuthGuard(app, {"secret": SECRET}, matcher=["/private"])
    seen: list[t.Any] = []
    app.config["SEEN"] = seen

    @app.before_request
    def users_own_hook() -> None:
        seen.append(("before", g.auth_token))

    @app.get("/public")
    def public() -> dict[str, t.Any]:
        return {"token": g.auth_token}

    @app.get("/private")
    def private() -> dict[str, t.Any]:
        return {
            "token": g.auth_token,
            "environ": request.environ[TOKEN_ENVIRON_KEY],
            "current": current_token(),
        }

    @app.get("/health")
    @guard.exempt
    def health() -> dict[str, t.Any]:
        return {"token": g.auth_token}

    @app.errorhandler(404)
    def not_found(_: t.Any) -> tuple[dict[str, t.Any], int]:
        return {"token": g.get("auth_token", "unset")}, 404

    return app


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/public", id="unprotected"),
        pytest.param("/private", id="protected"),
        pytest.param("/health", id="exempt"),
        pytest.param("/nowhere", id="not-found"),
    ],
)
def test_g_auth_token_is_set_on_every_request(token_app: Flask, user: str, path: str) -> None:
    client = token_app.test_client()
    client.set_cookie(V4, user)
    body = client.get(path).json
    assert body["token"]["sub"] == "u1"
    assert token_app.config["SEEN"][-1][1]["sub"] == "u1"  # already there for the app's own hooks
    client.delete_cookie(V4)
    if path != "/private":
        assert client.get(path).json["token"] is None
        assert token_app.config["SEEN"][-1] == ("before", None)


def test_g_auth_token_on_static_files_and_auth_endpoints(token_app: Flask, user: str) -> None:
    seen = token_app.config["SEEN"]
    client = token_app.test_client()
    client.set_cookie(V4, user)
    with client.get("/static/app.css") as response:
        assert response.status_code == 200
    assert seen[-1][1]["sub"] == "u1"
    assert client.get("/api/auth/csrf").status_code == 200
    assert seen[-1][1]["sub"] == "u1"


def test_protected_view_sees_the_token_three_ways(token_app: Flask, user: str) -> None:
    client = token_app.test_client()
    client.set_cookie(V4, user)
    body = client.get("/private").json
    assert body["token"] == body["environ"] == body["current"]
    assert body["token"]["role"] == "user"


def test_bad_cookie_is_no_token_and_never_a_500(token_app: Flask) -> None:
    client = token_app.test_client()
    for value in ("garbage", "a.b.c.d.e", "%ZZ", "x" * 70_000):
        client.set_cookie(V4, value, max_size=0)
        assert client.get("/public").json["token"] is None
        assert client.get("/private").status_code == 307


@pytest.mark.parametrize("mode", ["site-wide", "blueprint", "view"])
def test_every_check_hands_its_token_to_g(user: str, mode: str) -> None:
    app = Flask(__name__)
    guard = AuthGuard(app, {"secret": SECRET}, matcher=None if mode == "site-wide" else [])
    bp = Blueprint("bp", __name__)
    if mode == "blueprint":
        guard.protect(bp)

    def page() -> dict[str, t.Any]:
        # on g's own object already, before any read of g.auth_token
        return {"handed": g._get_current_object().__dict__.get("auth_token")}

    bp.add_url_rule("/page", "page", auth_required(page) if mode == "view" else page)
    app.register_blueprint(bp)
    client = app.test_client()
    client.set_cookie(V4, user)
    assert client.get("/page").json["handed"]["sub"] == "u1"


def test_templates_get_auth_token_in_and_outside_a_request(user: str) -> None:
    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET}, matcher=[])
    page = "{{ auth_token['sub'] if auth_token else auth_token is none }}|{{ get_server_session is defined }}"
    app.add_url_rule("/public", "public", lambda: render_template_string(page))
    client = app.test_client()
    client.set_cookie(V4, user)
    assert client.get("/public").text == "u1|True"  # decoded by the template's read (no check ran)
    client.delete_cookie(V4)
    assert client.get("/public").text == "True|True"
    with app.app_context():  # an app context without a request: no token
        assert render_template_string(page) == "True|True"


def test_the_token_is_decoded_once_per_request(user: str, decodes: list[str], encodes: list[t.Any]) -> None:
    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET}, matcher=["/page"])
    bp = Blueprint("bp", __name__)
    app.extensions["authguard"].guard.protect(bp)

    @bp.get("/page")
    @auth_required
    def page() -> str:
        first = get_server_session()
        second = get_server_session()
        assert first == second
        return render_template_string(
            "{{ get_server_session()['user']['name'] }} {{ auth_token['sub'] }} "
            "{{ get_server_session()['expires'] }}"
        )

    app.register_blueprint(bp)
    client = app.test_client()
    client.set_cookie(V4, user)
    response = client.get("/page")
    assert response.status_code == 200 and response.text.startswith("Ada u1 ")
    assert len(decodes) == 1  # site-wide, blueprint and view checks, three session reads, a template
    assert len(encodes) == 1
    assert cookie_names(response) == [V4]


def test_the_token_is_decoded_after_proxyfix_even_when_it_wraps_first(
    make_token: t.Callable[..., str], frozen_clock: FrozenClock
) -> None:
    app = Flask(__name__)
    app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1)  # type: ignore[method-assign]
    AuthGuard(app, {"secret": SECRET}, matcher=["/private"])

    @app.get("/private")
    def private() -> dict[str, t.Any]:
        return {"token": g.auth_token, "session": get_server_session()}

    client = app.test_client()
    client.set_cookie(f"__Secure-{V4}", make_token(sub="behind-proxy", name="P"))
    response = client.get("/private", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert response.json["token"]["sub"] == "behind-proxy"
    assert response.json["session"]["user"] == {"name": "P"}
    assert cookie_names(response) == [f"__Secure-{V4}"]


# --------------------------------------------------------------------------- protection modes


MODES = ("site-all", "site-list", "blueprint", "view")


def make_protected_app(mode: str, static_dir: pathlib.Path, authorized: t.Any = None) -> Flask:
    """``/private/page`` protected by ``mode``; ``/open`` protected only site-wide (``site-all``)."""
    app = Flask(__name__, static_folder=str(static_dir), static_url_path="/static")
    matcher: t.Any = {"site-all": None, "site-list": ["/private/:path*"]}.get(mode, [])
    options: dict[str, t.Any] = {"secret": SECRET}
    if authorized is not None and mode.startswith("site"):
        options["callbacks"] = {"authorized": authorized}
    guard = AuthGuard(app, options, matcher=matcher)
    bp = Blueprint("private", __name__, url_prefix="/private")
    if mode == "blueprint":
        guard.protect(bp, authorized=authorized)

    def page() -> dict[str, t.Any]:
        return {"sub": g.auth_token["sub"] if g.auth_token else None}

    if mode == "view":
        page = auth_required(authorized=authorized)(page) if authorized else auth_required(page)
    bp.get("/page")(page)
    app.register_blueprint(bp)

    @app.get("/open")
    def open_view() -> str:
        return "open"

    return app


def _client(app: Flask, token: str | None) -> t.Any:
    client = app.test_client()
    if token is not None:
        client.set_cookie(V4, token)
    return client


@pytest.mark.parametrize("mode", MODES)
def test_anonymous_page_request_is_redirected_to_sign_in(mode: str, static_dir: pathlib.Path) -> None:
    response = _client(make_protected_app(mode, static_dir), None).get("/private/page?tab=1")
    assert response.status_code == 307
    location = urlsplit(response.headers["Location"])
    assert location.path == "/api/auth/signin"
    assert parse_qs(location.query) == {"callbackUrl": ["/private/page?tab=1"]}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(JSON, id="accept-json"),
        pytest.param({"X-Requested-With": "XMLHttpRequest"}, id="xhr"),
        pytest.param({"Authorization": "Bearer not-a-token"}, id="bad-bearer"),
    ],
)
def test_anonymous_api_request_gets_401_json(
    mode: str, headers: dict[str, str], static_dir: pathlib.Path
) -> None:
    response = _client(make_protected_app(mode, static_dir), None).get("/private/page", headers=headers)
    assert response.status_code == 401
    assert response.is_json and response.json["error"] == "Unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


@pytest.mark.parametrize("mode", MODES)
def test_signed_in_request_passes(mode: str, user: str, static_dir: pathlib.Path) -> None:
    client = _client(make_protected_app(mode, static_dir), user)
    assert client.get("/private/page").json == {"sub": "u1"}
    assert client.get("/private/page", headers=JSON).json == {"sub": "u1"}


@pytest.mark.parametrize("mode", MODES)
def test_bearer_token_passes(mode: str, user: str, static_dir: pathlib.Path) -> None:
    client = _client(make_protected_app(mode, static_dir), None)
    assert client.get("/private/page", headers={"Authorization": f"Bearer {user}"}).json == {"sub": "u1"}


@pytest.mark.parametrize("mode", MODES)
def test_signed_in_but_refused_gets_403_never_a_redirect(
    mode: str, user: str, admin: str, static_dir: pathlib.Path
) -> None:
    app = make_protected_app(mode, static_dir, authorized=role_is("admin"))
    page = _client(app, user).get("/private/page")
    assert page.status_code == 403 and page.mimetype == "text/html"
    api = _client(app, user).get("/private/page", headers=JSON)
    assert api.status_code == 403 and api.json["error"] == "Forbidden"
    assert _client(app, None).get("/private/page").status_code == 307
    assert _client(app, admin).get("/private/page").json == {"sub": "a1"}


@pytest.mark.parametrize(
    ("mode", "open_protected"),
    [
        pytest.param("site-all", True, id="site-all"),
        pytest.param("site-list", False, id="site-list"),
        pytest.param("blueprint", False, id="blueprint"),
        pytest.param("view", False, id="view"),
    ],
)
def test_only_the_chosen_paths_are_protected(
    mode: str, open_protected: bool, static_dir: pathlib.Path
) -> None:
    client = _client(make_protected_app(mode, static_dir), None)
    assert client.get("/open").status_code == (307 if open_protected else 200)


def test_empty_matcher_protects_nothing_site_wide(static_dir: pathlib.Path) -> None:
    app = Flask(__name__, static_folder=str(static_dir), static_url_path="/static")
    AuthGuard(app, {"secret": SECRET}, matcher=[])

    @app.get("/anything")
    def anything() -> str:
        return "ok"

    assert app.test_client().get("/anything").status_code == 200


@pytest.mark.parametrize("mode", MODES)
def test_options_requests_are_checked(mode: str, static_dir: pathlib.Path) -> None:
    # Issue 11: OPTIONS used to pass unchecked. Flask answers it itself (no view runs), so the
    # view mode gives 200 either way; the before_request modes check it now.
    response = _client(make_protected_app(mode, static_dir), None).options("/private/page")
    assert response.status_code == (200 if mode == "view" else 307)


@pytest.mark.parametrize("mode", ["site-all", "site-list"])
def test_path_is_normalised_before_matching(mode: str, static_dir: pathlib.Path) -> None:
    client = _client(make_protected_app(mode, static_dir), None)
    for path in ("/open/../private/page", "/private//page", "/static/../private/page"):
        assert client.get(path).status_code == 307, path


def test_static_files_are_public_under_site_wide_protection(static_dir: pathlib.Path) -> None:
    client = _client(make_protected_app("site-all", static_dir), None)
    response = client.get("/static/app.css")
    assert response.status_code == 200 and response.text == "body{}"
    response.close()
    assert client.get("/static/missing.css").status_code == 404  # public, and honestly missing


def test_static_files_at_the_root_url_are_public(tmp_path: pathlib.Path) -> None:
    (tmp_path / "robots.txt").write_text("User-agent: *")
    app = Flask(__name__, static_folder=str(tmp_path), static_url_path="")
    AuthGuard(app, {"secret": SECRET})

    @app.get("/secret")
    def secret() -> str:
        return "secret"

    client = app.test_client()
    response = client.get("/robots.txt")
    assert response.status_code == 200
    response.close()
    assert client.get("/secret").status_code == 307


def test_blueprint_static_files_stay_public(tmp_path: pathlib.Path) -> None:
    (tmp_path / "admin.js").write_text("1")
    app = Flask(__name__)
    guard = AuthGuard(app, {"secret": SECRET}, matcher=[])
    bp = guard.protect(
        Blueprint(
            "admin", __name__, static_folder=str(tmp_path), static_url_path="/static", url_prefix="/admin"
        )
    )

    @bp.get("/")
    def home() -> str:
        return "admin"

    app.register_blueprint(bp)
    client = app.test_client()
    response = client.get("/admin/static/admin.js")
    assert response.status_code == 200
    response.close()
    assert client.get("/admin/").status_code == 307


def test_skip_list_passes_protect_and_auth_required(user: str) -> None:
    """A custom sign-in page inside a protected blueprint never redirects to itself."""
    app = Flask(__name__)
    guard = AuthGuard(app, {"secret": SECRET, "pages": {"sign_in": "/account/login"}}, matcher=[])
    bp = guard.protect(Blueprint("account", __name__, url_prefix="/account"))

    @bp.get("/login")
    @auth_required
    def login() -> str:
        return "login form"

    @bp.get("/profile")
    def profile() -> str:
        return "profile"

    app.register_blueprint(bp)
    client = app.test_client()
    assert client.get("/account/login").text == "login form"
    response = client.get("/account/profile")
    assert response.status_code == 307
    assert response.headers["Location"].startswith("http://localhost/account/login?callbackUrl=")


# --------------------------------------------------------------------------- exempt, decorators


def test_exempt_view_is_public_under_site_wide_protection(user: str) -> None:
    app = Flask(__name__)
    guard = AuthGuard(app, {"secret": SECRET})

    @app.get("/health")
    @guard.exempt
    def health() -> dict[str, t.Any]:
        return {"ok": True, "token": g.auth_token}

    @guard.exempt  # either order of decorators
    @app.post("/webhook")
    def webhook() -> str:
        return "received"

    @app.get("/dashboard")
    def dashboard() -> str:
        return "dashboard"

    client = app.test_client()
    assert client.get("/health").json == {"ok": True, "token": None}
    assert client.post("/webhook").text == "received"
    assert client.get("/dashboard").status_code == 307
    client.set_cookie(V4, user)
    assert client.get("/health").json["token"]["sub"] == "u1"


def test_exempt_in_a_protected_blueprint_and_auth_required_on_an_exempt_view(user: str) -> None:
    app = Flask(__name__)
    guard = AuthGuard(app, {"secret": SECRET}, matcher=[])
    bp = guard.protect(Blueprint("bp", __name__, url_prefix="/bp"))

    @bp.get("/public")
    @guard.exempt
    def public() -> str:
        return "public"

    @bp.get("/strict")
    @guard.exempt
    @auth_required
    def strict() -> str:
        return "strict"

    app.register_blueprint(bp)
    client = app.test_client()
    assert client.get("/bp/public").text == "public"
    assert client.get("/bp/strict").status_code == 307
    client.set_cookie(V4, user)
    assert client.get("/bp/strict").text == "strict"


def test_auth_required_keeps_the_views_name_and_arguments(user: str) -> None:
    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET}, matcher=[])

    @app.get("/items/<int:item_id>")
    @auth_required(
        authorized=lambda *, request, token, **_: token is not None and request.view_args["item_id"] < 10
    )
    def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    assert item.__name__ == "item"
    client = _client(app, user)
    assert client.get("/items/3").json == {"item": 3}
    assert client.get("/items/30").status_code == 403


def test_auth_required_without_a_guard_is_a_configuration_error() -> None:
    app = Flask(__name__)
    app.testing = True

    @app.get("/")
    @auth_required
    def index() -> str:
        return "x"

    with pytest.raises(ConfigurationError, match="not initialised"):
        app.test_client().get("/")


def test_protected_blueprint_on_two_apps_uses_each_apps_guard(
    make_token: t.Callable[..., str], frozen_clock: FrozenClock
) -> None:
    guard = AuthGuard(options={"secret": SECRET}, matcher=[])
    bp = guard.protect(Blueprint("shared", __name__), authorized=role_is("admin"))

    @bp.get("/admin")
    def admin_view() -> str:
        return "admin"

    apps = []
    for secret in (SECRET, "another-secret-0123456789abcdef0123"):
        app = Flask(__name__)
        app.config["AUTHGUARD_SECRET"] = secret
        guard.init_app(app)
        app.register_blueprint(bp)
        apps.append(app)
    token = make_token(role="admin")
    assert _client(apps[0], token).get("/admin").text == "admin"
    assert _client(apps[1], token).get("/admin").status_code == 307


# --------------------------------------------------------------------------- inner middleware


def test_inner_middleware_runs_once_for_authorized_protected_requests(user: str) -> None:
    calls: list[t.Any] = []

    def inner(req: t.Any) -> None:
        calls.append((req.path, req.environ[TOKEN_ENVIRON_KEY]["sub"]))

    app = Flask(__name__)
    guard = AuthGuard(app, {"secret": SECRET}, matcher=["/site"], middleware=inner)
    bp = guard.protect(Blueprint("bp", __name__))

    @bp.get("/site")
    @auth_required
    def site() -> str:
        return "site"

    @app.get("/view")
    @auth_required
    def view() -> str:
        return "view"

    @app.get("/free")
    def free() -> str:
        return "free"

    app.register_blueprint(bp)
    client = _client(app, None)
    assert client.get("/site").status_code == 307 and calls == []
    client.set_cookie(V4, user)
    assert client.get("/site").text == "site"  # site-wide, blueprint and view: one call
    assert client.get("/view").text == "view"
    assert client.get("/free").text == "free"
    assert calls == [("/site", "u1"), ("/view", "u1")]


def test_inner_middleware_may_answer_instead_of_the_view(user: str, admin: str) -> None:
    def inner(req: t.Any) -> Response | None:
        if req.environ[TOKEN_ENVIRON_KEY].get("role") != "admin":
            return Response(json.dumps({"error": "Forbidden"}), status=403, mimetype="application/json")
        return None

    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET}, middleware=inner)

    @app.get("/")
    def index() -> str:
        return "index"

    assert _client(app, user).get("/").json == {"error": "Forbidden"}
    assert _client(app, admin).get("/").text == "index"


STRICTER = [
    "protect-authorized",
    "protect-max-age",
    "view-authorized",
    "blueprint-and-view",
    "nested",
    "method-view",
    "class-view",
]


@pytest.mark.parametrize("stricter", STRICTER)
def test_the_inner_middleware_runs_after_the_strictest_check(user: str, admin: str, stricter: str) -> None:
    ran: list[str] = []

    def inner(req: t.Any) -> Response:
        ran.append(req.path)
        return Response("the inner middleware's answer")

    app = Flask(__name__)
    guard = AuthGuard(app, {"secret": SECRET}, middleware=inner)  # site-wide: any signed-in user
    admin_only = role_is("admin")
    bp = Blueprint("admin", __name__, url_prefix="/admin")

    def page() -> str:
        return "admin page"

    view: t.Callable[[], str] = page
    if stricter == "protect-authorized":
        guard.protect(bp, authorized=admin_only)
    elif stricter == "protect-max-age":
        guard.protect(bp, max_age=60)  # the test tokens carry no sign-in time: sign in again
    elif stricter == "view-authorized":
        view = auth_required(authorized=admin_only)(view)
    elif stricter == "blueprint-and-view":
        guard.protect(bp)
        view = auth_required(authorized=admin_only)(view)
    elif stricter == "method-view":  # the check on the method that serves GET (and HEAD)

        class Page(MethodView):
            @auth_required(authorized=admin_only)
            def get(self) -> str:
                return "admin page"

        view = Page.as_view("page")
    elif stricter == "class-view":

        class Dispatch(View):
            @auth_required(authorized=admin_only)
            def dispatch_request(self) -> str:
                return "admin page"

        view = Dispatch.as_view("page")
    else:
        guard.protect(bp)
        inner_bp = guard.protect(Blueprint("inner", __name__), authorized=admin_only)
        inner_bp.add_url_rule("/page", "page", view)
        bp.register_blueprint(inner_bp)
    if stricter != "nested":
        bp.add_url_rule("/page", "page", view)
    app.register_blueprint(bp)
    refused = _client(app, user).get("/admin/page")
    assert refused.status_code == (307 if stricter == "protect-max-age" else 403)
    assert ran == []  # the site-wide check let the user in, the stricter check refused: no answer of its own
    if stricter != "protect-max-age":
        assert _client(app, admin).get("/admin/page").text == "the inner middleware's answer"
        assert ran == ["/admin/page"]


@pytest.mark.parametrize("kind", ["function", "class"])
def test_an_options_request_flask_answers_itself_runs_the_inner_middleware(user: str, kind: str) -> None:
    """Flask answers OPTIONS itself, without the view: the view's ``@auth_required`` never runs,
    so the site-wide check is the last one and runs the inner middleware."""
    ran: list[str] = []

    def inner(req: t.Any) -> Response:
        ran.append(req.method)
        return Response("the inner middleware's answer", status=418)

    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET}, middleware=inner)
    if kind == "class":

        class Page(View):
            @auth_required
            def dispatch_request(self) -> str:
                return "page"

        app.add_url_rule("/page", view_func=Page.as_view("page"))
    else:
        app.add_url_rule("/page", "page", auth_required(lambda: "page"))
    client = _client(app, user)
    assert client.open("/page", method="OPTIONS").status_code == 418
    assert client.get("/page").status_code == 418
    assert ran == ["OPTIONS", "GET"]


# --------------------------------------------------------------------------- async


def test_async_views_and_callbacks(user: str, admin: str) -> None:
    async def authorized(*, token: t.Any, **_: t.Any) -> bool:
        return isinstance(token, dict) and token.get("role") == "admin"

    async def jwt(*, token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
        return {**token, "seen_by": "async jwt"}

    async def session_cb(
        *, session: dict[str, t.Any], token: dict[str, t.Any], **_: t.Any
    ) -> dict[str, t.Any]:
        return {**session, "seen_by": token["seen_by"]}

    app = Flask(__name__)
    guard = AuthGuard(app, {"secret": SECRET, "callbacks": {"jwt": jwt, "session": session_cb}}, matcher=[])
    bp = guard.protect(Blueprint("bp", __name__, url_prefix="/bp"), authorized=authorized)

    @app.get("/async")
    @auth_required
    async def async_view() -> dict[str, t.Any]:
        return {"session": get_server_session(), "token": g.auth_token["sub"]}

    @app.get("/async-admin")
    @auth_required(authorized=authorized)
    async def async_admin() -> str:
        return "admin"

    @bp.get("/page")
    async def bp_page() -> str:
        return "bp"

    app.register_blueprint(bp)
    client = _client(app, user)
    response = client.get("/async")
    assert response.status_code == 200
    assert response.json["session"]["seen_by"] == "async jwt" and response.json["token"] == "u1"
    refreshed = cookie_value(response, V4)
    assert refreshed and decode(token=refreshed, secret=SECRET)["seen_by"] == "async jwt"
    assert client.get("/async-admin").status_code == 403
    assert client.get("/bp/page").status_code == 403
    admin_client = _client(app, admin)
    assert admin_client.get("/async-admin").text == "admin"
    assert admin_client.get("/bp/page").text == "bp"
    assert _client(app, None).get("/async").status_code == 307


# --------------------------------------------------------------------------- get_server_session in Flask


@pytest.fixture
def session_app() -> Flask:
    app = Flask(__name__)
    guard = AuthGuard(app, {"secret": SECRET, "session": {"max_age": 3600}}, matcher=[])
    bp = Blueprint("bp", __name__, url_prefix="/bp")

    @app.get("/view")
    def view() -> dict[str, t.Any]:
        return {"session": get_server_session()}

    @app.get("/with-options")
    def with_options() -> dict[str, t.Any]:
        return {"session": get_server_session({"secret": SECRET, "session": {"max_age": 60}})}

    @app.get("/werkzeug-form")
    def werkzeug_form() -> Response:
        response = Response("x", mimetype="application/json")
        session = get_server_session(request, response, None)  # the guard's options
        response.set_data(json.dumps({"session": session}))
        return response

    @app.get("/template")
    def template() -> str:
        return render_template_string(
            "{% set s = get_server_session() %}{{ s['user']['name'] if s else 'anonymous' }}"
            "|{{ auth_token['sub'] if auth_token else '-' }}"
        )

    @app.get("/missing")
    def missing() -> str:
        abort(404)

    @app.errorhandler(404)
    def not_found(_: t.Any) -> tuple[str, int]:
        session = get_server_session()
        return f"not found, {session['user']['name'] if session else 'stranger'}", 404

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("view failed")

    @app.errorhandler(500)
    def server_error(_: t.Any) -> tuple[str, int]:
        session = get_server_session()
        return f"sorry {session['user']['name'] if session else 'stranger'}", 500

    @app.get("/sign-out-by-hand")
    def sign_out_by_hand() -> Response:
        get_server_session()
        response = Response("bye")
        response.delete_cookie(V4)
        return response

    @bp.get("/page")
    def bp_page() -> dict[str, t.Any]:
        return {"session": get_server_session()}

    app.register_blueprint(bp)
    guard.exempt(view)
    return app


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        pytest.param("/view", 200, None, id="view"),
        pytest.param("/bp/page", 200, None, id="blueprint"),
        pytest.param("/werkzeug-form", 200, None, id="werkzeug-form-in-flask"),
        pytest.param("/template", 200, "Ada|u1", id="template"),
        pytest.param("/missing", 404, "not found, Ada", id="error-handler"),
        pytest.param("/boom", 500, "sorry Ada", id="unhandled-error-handler"),
    ],
)
def test_the_refreshed_cookie_reaches_the_response_from_anywhere(
    session_app: Flask, user: str, frozen_clock: FrozenClock, path: str, status: int, body: str | None
) -> None:
    client = _client(session_app, user)
    frozen_clock.now += 100
    response = client.get(path)
    assert response.status_code == status
    if body is None:
        assert response.json["session"]["user"] == {"name": "Ada", "email": "ada@example.com"}
    else:
        assert response.text == body
    assert cookie_names(response) == [V4]
    claims = decode(token=cookie_value(response, V4), secret=SECRET)
    assert claims["exp"] == frozen_clock.now + 3600 and claims["sub"] == "u1"
    assert "Expires=" in set_cookie_headers(response)[0]
    assert "Cookie" in response.vary


def test_template_without_a_session(session_app: Flask) -> None:
    response = _client(session_app, None).get("/template")
    assert response.text == "anonymous|-" and set_cookie_headers(response) == []


def test_options_form_uses_those_options(session_app: Flask, user: str, frozen_clock: FrozenClock) -> None:
    response = _client(session_app, user).get("/with-options")
    assert response.json["session"]["user"]["name"] == "Ada"
    assert decode(token=cookie_value(response, V4), secret=SECRET)["exp"] == frozen_clock.now + 60


def test_invalid_cookie_gives_none_and_is_cleared(
    session_app: Flask, make_token: t.Callable[..., str], frozen_clock: FrozenClock
) -> None:
    client = _client(session_app, make_token(sub="x", max_age=10))
    frozen_clock.now += 3600
    response = client.get("/view")
    assert response.json == {"session": None}
    assert [parsed(h) for h in set_cookie_headers(response)] == [DELETED]
    assert client.get_cookie(V4) is None  # the client dropped it


def test_repeated_calls_in_one_request_decode_and_encode_once(
    user: str, decodes: list[str], encodes: list[t.Any]
) -> None:
    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET}, matcher=[])
    options = {"secret": SECRET}

    @app.get("/")
    def index() -> dict[str, t.Any]:
        sessions = [get_server_session() for _ in range(3)]
        sessions += [get_server_session(options) for _ in range(3)]
        assert all(s == sessions[0] for s in sessions)
        return {"n": len(sessions)}

    response = _client(app, user).get("/")
    assert response.json == {"n": 6}
    # the guard's read reuses the guard's decode; the dict's read is one more, once
    assert len(decodes) == 2 and len(encodes) == 2
    assert cookie_names(response) == [V4]  # one refresh: the first one written wins


def test_sign_out_response_is_not_refreshed(user: str) -> None:
    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET}, matcher=[])

    @app.before_request
    def read_everywhere() -> None:
        get_server_session()  # e.g. a layout that shows the user, on every request

    client = _client(app, user)
    csrf = client.get("/api/auth/csrf").json["csrfToken"]
    response = client.post("/api/auth/signout", data={"csrfToken": csrf})
    assert response.status_code == 302
    session_headers = [parsed(h) for h in set_cookie_headers(response) if h.startswith(V4)]
    assert session_headers == [DELETED]
    assert client.get_cookie(V4) is None


def test_chunked_sign_out_is_not_refreshed(
    make_token: t.Callable[..., str], frozen_clock: FrozenClock
) -> None:
    app = Flask(__name__)
    AuthGuard(app, {"secret": SECRET}, matcher=[])

    @app.before_request
    def read_everywhere() -> None:
        assert get_server_session() is not None

    big = make_token(sub="u1", blob="x" * 5000)
    client = app.test_client()
    pieces = [big[i : i + 3933] for i in range(0, len(big), 3933)]
    assert len(pieces) == 2
    for i, piece in enumerate(pieces):
        client.set_cookie(f"{V4}.{i}", piece)
    csrf = client.get("/api/auth/csrf").json["csrfToken"]
    response = client.post("/api/auth/signout", data={"csrfToken": csrf})
    session_headers = sorted(parsed(h) for h in set_cookie_headers(response) if h.startswith(V4))
    assert session_headers == [(f"{V4}.0", "", DELETED[2]), (f"{V4}.1", "", DELETED[2])]


def test_a_view_that_deletes_the_cookie_is_not_refreshed(session_app: Flask, user: str) -> None:
    response = _client(session_app, user).get("/sign-out-by-hand")
    (header,) = set_cookie_headers(response)
    assert header.startswith(f"{V4}=;") and "Max-Age=0" in header


def test_session_endpoint_sets_the_refresh_once(session_app: Flask, user: str) -> None:
    @session_app.before_request
    def read() -> None:
        get_server_session()

    response = _client(session_app, user).get("/api/auth/session")
    assert response.json["user"]["name"] == "Ada"
    assert cookie_names(response).count(V4) == 1


def test_v5_guard_reads_and_refreshes_authjs_cookies(
    make_token: t.Callable[..., str], frozen_clock: FrozenClock
) -> None:
    app = Flask(__name__)
    app.config["AUTHGUARD_VERSION"] = 5
    AuthGuard(app, {"secret": SECRET})

    @app.get("/")
    def index() -> dict[str, t.Any]:
        return {"sub": g.auth_token["sub"], "session": get_server_session()}

    client = app.test_client()
    client.set_cookie(V5, make_token(sub="v5", name="Five", version=5, salt=V5))
    response = client.get("/")
    assert response.json["sub"] == "v5" and response.json["session"]["user"] == {"name": "Five"}
    assert cookie_names(response) == [V5]


def test_https_only_app_uses_secure_names(
    make_token: t.Callable[..., str], frozen_clock: FrozenClock
) -> None:
    app = Flask(__name__)
    app.config["AUTHGUARD_URL"] = "https://app.example.com"
    AuthGuard(app, {"secret": SECRET})

    @app.get("/")
    def index() -> dict[str, t.Any]:
        return {"session": get_server_session()}

    client = app.test_client()
    client.set_cookie(V4, make_token(sub="plain"))
    assert client.get("/").status_code == 307  # the plain name is not this app's cookie
    client.set_cookie(f"__Secure-{V4}", make_token(sub="secure", name="S"))
    response = client.get("/")
    assert response.json["session"]["user"] == {"name": "S"}
    assert cookie_names(response) == [f"__Secure-{V4}"] and "Secure" in set_cookie_headers(response)[0]
