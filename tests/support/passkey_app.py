"""The passkey suites' apps: one set of options (credentials, email links, passkeys, an adapter on
in-memory SQLite) served by each front end (Flask's ``AuthGuard``, plain WSGI ``with_auth``,
ASGI ``AuthMiddleware``), on each session strategy, driven through werkzeug's test client, and
the steps a browser takes (options, the authenticator's answer, the form post)."""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("webauthn", reason='py_webauthn is not installed: pip install -e ".[test]"')
pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
import json  # noqa: E402

from flask import Flask, jsonify  # noqa: E402
from werkzeug.test import Client  # noqa: E402

from flask_authguard import (  # noqa: E402
    AuthGuard,
    CredentialsProvider,
    EmailProvider,
    PasskeyProvider,
    get_server_session,
    with_auth,
)
from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter  # noqa: E402
from support.asgi_driver import run_asgi  # noqa: E402
from support.soft_authenticator import SoftAuthenticator  # noqa: E402

SECRET = "passkey-suite-secret-0123456789abcdef0123"
ORIGIN = "http://localhost"
FRONT_ENDS = ("flask", "wsgi", "asgi")
STRATEGIES = ("jwt", "database")
USERS = {
    "alice": {"id": "1", "name": "Alice", "email": "alice@example.com"},
    "bob": {"id": "2", "name": "Bob", "email": "bob@example.com"},
    "nomail": {"id": "3", "name": "No Mail"},
}


def authorize(*, credentials: dict[str, str], **kwargs: t.Any) -> dict[str, t.Any] | None:
    user = USERS.get(credentials.get("username", ""))
    return dict(user) if user and credentials.get("password") == "pw" else None


class Mailbox:
    """The email provider's sender: keeps the links."""

    def __init__(self) -> None:
        self.links: list[str] = []

    def __call__(self, *, url: str, **kwargs: t.Any) -> None:
        self.links.append(url)


def options(strategy: str, adapter: SQLAlchemyAdapter, mailbox: Mailbox, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "secret": SECRET,
        "url": ORIGIN,
        "adapter": adapter,
        "session": {"strategy": strategy},
        "providers": [
            CredentialsProvider(authorize=authorize, credentials={"username": {}, "password": {}}),
            EmailProvider(send_verification_request=mailbox),
            PasskeyProvider(),
        ],
        **extra,
    }


def _inner_wsgi(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"app"]


def _asgi_as_wsgi(app: t.Any) -> t.Any:
    def wsgi(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        chunks, status, headers = run_asgi(app, environ)
        start_response(status, headers.to_wsgi_list())
        return chunks

    return wsgi


def make_client(front: str, opts: dict[str, t.Any]) -> Client:
    """A test client on ``front`` serving the auth routes with ``opts``."""
    if front == "flask":
        app = Flask(__name__)
        AuthGuard(app, opts)

        @app.get("/whoami")
        def whoami() -> t.Any:
            return jsonify(session=get_server_session())

        return app.test_client()
    if front == "wsgi":
        return Client(with_auth(_inner_wsgi, options=opts))
    from starlette.responses import PlainTextResponse

    from flask_authguard.asgi import AuthMiddleware

    async def inner(scope: t.Any, receive: t.Any, send: t.Any) -> None:
        await PlainTextResponse("app")(scope, receive, send)

    return Client(_asgi_as_wsgi(AuthMiddleware(inner, opts)))


class Site:
    """One app with an adapter and a mailbox, and the browser steps against it."""

    def __init__(self, front: str, strategy: str, layout: str = "pg", **extra: t.Any) -> None:
        self.adapter = SQLAlchemyAdapter("sqlite://", layout=layout, create_tables=True)
        self.mailbox = Mailbox()
        self.strategy = strategy
        self.client = make_client(front, options(strategy, self.adapter, self.mailbox, **extra))

    # -- plain steps ---------------------------------------------------------------------------

    def csrf(self) -> str:
        return t.cast(str, self.client.get("/api/auth/csrf").get_json()["csrfToken"])

    def session(self) -> t.Any:
        return self.client.get("/api/auth/session").get_json()

    def sign_in_with_password(self, username: str) -> None:
        response = self.client.post(
            "/api/auth/callback/credentials",
            data={"csrfToken": self.csrf(), "username": username, "password": "pw", "callbackUrl": "/"},
        )
        assert response.status_code == 302 and "error" not in response.headers["Location"], response.headers
        assert self.session()["user"].get("email") == USERS[username].get("email")

    def sign_in_with_email(self, address: str) -> str:
        """Follow an email link; the Location the callback answers."""
        self.client.post("/api/auth/signin/email", data={"csrfToken": self.csrf(), "email": address})
        link = urlsplit(self.mailbox.links[-1])
        response = self.client.get(f"{link.path}?{link.query}")
        assert response.status_code == 302
        return response.headers["Location"]

    def sign_out(self) -> None:
        self.client.post("/api/auth/signout", data={"csrfToken": self.csrf()})
        assert not self.session()

    def options(self, action: str | None = None, **params: str) -> t.Any:
        query = {**({"action": action} if action else {}), **params}
        return self.client.get("/api/auth/webauthn-options/passkey", query_string=query)

    def post_callback(self, action: str, data: t.Any, **extra: t.Any) -> t.Any:
        body = {"csrfToken": self.csrf(), "callbackUrl": "/after", "action": action, **extra}
        if data is not None:
            body["data"] = data if isinstance(data, str) else json.dumps(data)
        return self.client.post("/api/auth/callback/passkey", data=body)

    # -- ceremonies ----------------------------------------------------------------------------

    def register(self, authenticator: SoftAuthenticator, **kwargs: t.Any) -> t.Any:
        answer = self.options("register")
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        assert body["action"] == "register", body
        return self.post_callback("register", authenticator.register(body["options"], ORIGIN, **kwargs))

    def authenticate(
        self, authenticator: SoftAuthenticator, *, origin: str = ORIGIN, **kwargs: t.Any
    ) -> t.Any:
        body = self.options("authenticate").get_json()
        assert body["action"] == "authenticate"
        return self.post_callback(
            "authenticate", authenticator.authenticate(body["options"], origin, **kwargs)
        )


def error_of(response: t.Any) -> str | None:
    """The ``error`` of a redirect's Location, or ``None``."""
    location = response.headers.get("Location", "")
    return (parse_qs(urlsplit(location).query).get("error") or [None])[0]
