"""``AuthEndpoints`` on its own and mounted, the pages outside the routes (403, Configuration
error) and what Flask adds around the shared handler (its error handlers, its templates)."""

from __future__ import annotations

import typing as t
from urllib.parse import quote

import pytest
from conftest import SECRET
from flask import Flask
from jinja2 import DictLoader
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from flask_authguard import (
    AuthEndpoints,
    AuthGuard,
    CredentialsProvider,
    SignInResult,
    encode,
    get_server_session,
    with_auth,
)
from flask_authguard.core.tokens.request_token import CONFIG_ENVIRON_KEY
from flask_authguard.endpoints.messages import SERVER_ERROR

V4 = "next-auth.session-token"


def authorize(*, credentials: dict[str, str], **_: t.Any) -> dict[str, t.Any] | None:
    if credentials.get("username") == "ada" and credentials.get("password") == "pw":
        return {"id": "1", "name": "Ada", "email": "ada@example.com"}
    return None


OPTIONS: dict[str, t.Any] = {
    "secret": SECRET,
    "providers": [
        CredentialsProvider(
            authorize=authorize,
            credentials={"username": {"label": "Username"}, "password": {"label": "Password"}},
        )
    ],
}


def site(environ: t.Any, start_response: t.Any) -> t.Iterable[bytes]:
    request = Request(environ)
    token = environ.get("authguard.token")
    return Response(f"site {request.path} {token and token.get('name')}")(environ, start_response)


def sign_in(client: Client, base: str = "/api/auth", **extra: str) -> t.Any:
    csrf = client.get(f"{base}/csrf").get_json()["csrfToken"]
    data = {"csrfToken": csrf, "username": "ada", "password": "pw", **extra}
    return client.post(f"{base}/callback/credentials", data=data)


# -- AuthEndpoints -------------------------------------------------------------------------------


def test_auth_endpoints_alone_serve_the_routes_and_404_elsewhere() -> None:
    client = Client(AuthEndpoints(OPTIONS))
    assert client.get("/api/auth/providers").get_json()["credentials"]["type"] == "credentials"
    assert sign_in(client).status_code == 302
    assert client.get("/api/auth/session").get_json()["user"]["name"] == "Ada"
    for path in ("/", "/private", "/api/authx", "/api"):
        assert client.get(path).status_code == 404, path
    assert client.get("/api/auth/nope").status_code == 400  # next-auth's answer inside the base path


def test_auth_endpoints_mounted_with_a_dispatcher() -> None:
    """Mounted at the base path: the routes see it in ``SCRIPT_NAME``, the URLs they make keep it."""
    app = with_auth(
        DispatcherMiddleware(site, {"/api/auth": AuthEndpoints(OPTIONS)}),
        options={"secret": SECRET},
        matcher=["/private"],
    )
    client = Client(app)
    anonymous = client.get("/private")
    assert anonymous.status_code == 307 and anonymous.location.startswith("http://localhost/api/auth/signin?")
    page = client.get("/api/auth/signin").get_data(as_text=True)
    assert 'action="http://localhost/api/auth/callback/credentials"' in page
    assert sign_in(client, callbackUrl="/private").location == "http://localhost/private"
    assert client.get("/private").get_data(as_text=True) == "site /private Ada"


def test_auth_endpoints_template_loader_overrides_a_page() -> None:
    loader = DictLoader({"authguard/signin.html": "MINE {{ providers|length }} {{ csrf_token|length }}"})
    client = Client(AuthEndpoints(OPTIONS, template_loader=loader))
    response = client.get("/api/auth/signin")
    assert response.get_data(as_text=True) == "MINE 1 64"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Sign out" in client.get("/api/auth/signout").get_data(as_text=True)  # the others built in


def test_with_auth_serves_the_routes_only_with_providers() -> None:
    assert (
        Client(with_auth(site, options={"secret": SECRET})).get("/api/auth/csrf").data
        == b"site /api/auth/csrf None"
    )
    off = with_auth(site, options={**OPTIONS, "endpoints": False})
    assert Client(off).get("/api/auth/csrf").data == b"site /api/auth/csrf None"
    assert Client(with_auth(site, options=OPTIONS)).get("/api/auth/csrf").get_json()["csrfToken"]


def test_the_plain_wsgi_app_signs_in_and_out() -> None:
    client = Client(with_auth(site, options=OPTIONS, matcher=["/private"]))
    assert client.get("/private").status_code == 307
    assert sign_in(client, callbackUrl="/private").location == "http://localhost/private"
    assert client.get("/private").get_data(as_text=True) == "site /private Ada"
    csrf = client.get("/api/auth/csrf").get_json()["csrfToken"]
    assert client.post("/api/auth/signout", data={"csrfToken": csrf}).status_code == 302
    assert client.get("/api/auth/session").get_json() == {}
    assert client.get("/private").status_code == 307


class ConfigReader:
    """A provider that reads the endpoints' options from the request."""

    id = "reader"
    name = "Reader"
    type = "credentials"
    callback_methods = ("POST",)
    callback_csrf = True

    def __init__(self) -> None:
        self.seen: list[t.Any] = []

    def begin_sign_in(self, request: t.Any, **_: t.Any) -> None:
        return None

    def handle_callback(self, request: t.Any, form: t.Mapping[str, t.Any]) -> SignInResult:
        self.seen.append(request.environ[CONFIG_ENVIRON_KEY])
        return SignInResult(user={"id": "r"}, account={"provider": "reader", "type": "credentials"})


def test_providers_find_the_options_in_the_environ() -> None:
    provider = ConfigReader()
    endpoints = AuthEndpoints({"secret": SECRET, "providers": [provider]})
    client = Client(endpoints)
    csrf = client.get("/api/auth/csrf").get_json()["csrfToken"]
    client.post("/api/auth/callback/reader", data={"csrfToken": csrf})
    assert provider.seen == [endpoints.config]


# -- the 403 page ----------------------------------------------------------------------------------


def _forbidding(kind: str) -> t.Any:
    options = {
        "secret": SECRET,
        "callbacks": {"authorized": lambda *, token, **_: token and token.get("admin")},
    }
    if kind == "wsgi":
        return with_auth(site, options=options)
    app = Flask(__name__)
    AuthGuard(app, options)
    app.add_url_rule("/admin", "admin", lambda: "admin")
    return app


@pytest.mark.parametrize("kind", ["wsgi", "flask"])
@pytest.mark.parametrize("mount", ["", "/app"])
def test_the_403_page_is_styled_and_leads_home_and_to_sign_out(kind: str, mount: str) -> None:
    client = Client(_forbidding(kind))
    client.set_cookie(V4, encode(token={"sub": "u", "name": "U"}, secret=SECRET), domain="localhost")
    response = client.get("/admin", base_url=f"http://localhost{mount}")
    assert response.status_code == 403 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<h1 id="page-title">Access denied</h1>' in html
    assert "<style>" in html  # the pages' shared look
    assert f'id="home-link" href="{mount}/"' in html
    # signing out comes back here, so another account can sign in to this page (issue 28)
    assert (
        f'id="signout-link" href="{mount}/api/auth/signout?callbackUrl={quote(mount + "/admin", safe="")}"'
        in html
    )
    assert "<script" not in html
    assert SECRET not in html


# -- Flask around the handler ----------------------------------------------------------------------


def _flask_session_app(**options: t.Any) -> Flask:
    app = Flask(__name__)
    AuthGuard(app, {"providers": OPTIONS["providers"], **options}, matcher=[])

    @app.get("/")
    def home() -> t.Any:
        return {"session": get_server_session()}

    return app


def test_get_server_session_without_a_secret_renders_the_configuration_error() -> None:
    client = _flask_session_app().test_client()
    page = client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert '<h1 id="page-title">Server error</h1>' in page.get_data(as_text=True)
    api = client.get("/", headers={"Accept": "application/json"})
    assert api.status_code == 500
    assert api.get_json() == {"message": SERVER_ERROR}


def test_get_server_session_without_a_secret_goes_to_a_custom_error_page() -> None:
    response = _flask_session_app(pages={"error": "/oops"}).test_client().get("/")
    assert response.status_code == 302 and response.location == "http://localhost/oops?error=Configuration"


def test_flask_error_handlers_see_the_endpoints_http_errors() -> None:
    app = Flask(__name__)
    AuthGuard(app, OPTIONS, matcher=[])
    app.register_error_handler(413, lambda exc: ("MY 413", 413))
    response = app.test_client().post("/api/auth/signout", data={"x": "y" * 70000})
    assert response.status_code == 413 and response.data == b"MY 413"


def test_flask_pages_see_the_apps_globals_and_context_processors(tmp_path: t.Any) -> None:
    folder = tmp_path / "authguard"
    folder.mkdir()
    (folder / "signout.html").write_text("{{ url_for('home') }} {{ shout('bye') }} {{ auth_token }}")
    app = Flask(__name__, template_folder=str(tmp_path))
    AuthGuard(app, OPTIONS, matcher=[])
    app.add_url_rule("/home", "home", lambda: "home")
    app.context_processor(lambda: {"shout": str.upper})
    assert app.test_client().get("/api/auth/signout").data == b"/home BYE None"


def test_database_sessions_on_the_plain_wsgi_app() -> None:
    """The database strategy through the same routes: the cookie holds a session token."""
    pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    adapter = SQLAlchemyAdapter("sqlite://", create_tables=True)
    try:
        options = {**OPTIONS, "adapter": adapter, "session": {"strategy": "database"}}
        client = Client(with_auth(site, options=options, matcher=["/private"]))
        signed_in = sign_in(client, callbackUrl="/private")
        assert signed_in.location == "http://localhost/private"
        cookie = next(h for h in signed_in.headers.getlist("Set-Cookie") if h.startswith(V4 + "="))
        token = cookie.split(";", 1)[0].split("=", 1)[1]
        assert adapter.get_session_and_user(token) is not None
        assert client.get("/private").get_data(as_text=True) == "site /private Ada"
        assert client.get("/api/auth/session").get_json()["user"]["email"] == "ada@example.com"
        csrf = client.get("/api/auth/csrf").get_json()["csrfToken"]
        assert client.post("/api/auth/signout", data={"csrfToken": csrf}).status_code == 302
        assert adapter.get_session_and_user(token) is None
        assert client.get("/private").status_code == 307
    finally:
        adapter.close()
