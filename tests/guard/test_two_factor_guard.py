"""``mfa=True`` routes (``flask_authguard.guard.two_factor``): the blueprint form, the options it
needs, and a store that fails (503, never "let in")."""

from __future__ import annotations

import typing as t

import pytest
from conftest import SECRET, FrozenClock
from flask import Blueprint, Flask
from support.handler_app import BASE, client_of
from support.two_factor_app import KINDS, Records, code_at, enrol, make_site, options, sign_in
from werkzeug.wrappers import Request, Response

from flask_authguard import AuthGuard, ConfigurationError, auth_required


def blueprint_app(opts: dict[str, t.Any], middleware: t.Any = None) -> Flask:
    app = Flask(__name__)
    guard = AuthGuard(app, opts, matcher=["/nothing"], middleware=middleware)
    admin = Blueprint("admin", __name__)

    @admin.get("/admin/")
    def admin_home() -> str:
        return "admin"

    guard.protect(admin, mfa=True)
    app.register_blueprint(admin)
    return app


def test_protect_with_mfa(frozen_clock: FrozenClock) -> None:
    opts, _ = options("jwt")
    client = client_of(blueprint_app(opts))
    assert client.get("/admin/").status_code == 307  # anonymous: sign in first
    assert client.get("/admin/").headers["Location"].startswith(f"{BASE}/api/auth/signin?")
    sign_in(client)
    refused = client.get("/admin/")
    assert refused.headers["Location"] == f"{BASE}/api/auth/two-factor?callbackUrl=%2Fadmin%2F"
    enrol(client, frozen_clock.now)
    assert client.get("/admin/").status_code == 200


def test_mfa_without_two_factor_is_a_configuration_error(caplog: pytest.LogCaptureFixture) -> None:
    opts, _ = options("jwt")
    del opts["two_factor"]
    client = client_of(blueprint_app(opts))
    sign_in(client)
    answer = client.get("/admin/")
    assert answer.status_code == 307 and answer.headers["Location"].endswith(
        "/api/auth/error?error=Configuration"
    )
    assert "two_factor is off" in caplog.text
    assert client.get("/api/auth/two-factor").status_code == 400  # no such route then


class Broken(Records):
    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def load(self, *, user_id: str) -> dict[str, t.Any] | None:
        if self.down:
            raise OSError("the records' database is down")
        return super().load(user_id=user_id)


def test_a_failing_store_answers_503_never_lets_in(frozen_clock: FrozenClock) -> None:
    records = Broken()
    opts, _ = options("jwt", two_factor={"load": records.load, "save": records.save})
    app = blueprint_app(opts)
    client = client_of(app)
    sign_in(client)
    secret, _, _ = enrol(client, frozen_clock.now)
    client.post("/api/auth/signout", data={"csrfToken": client.get("/api/auth/csrf").get_json()["csrfToken"]})
    records.down = True
    answer = sign_in(client)
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert client.get("/api/auth/session").get_json() == {}
    records.down = False
    assert sign_in(client).headers["Location"].endswith("/api/auth/two-factor/verify")
    records.down = True
    frozen_clock.now += 30
    data = {
        "csrfToken": client.get("/api/auth/csrf").get_json()["csrfToken"],
        "code": code_at(secret, frozen_clock.now),
    }
    assert client.post("/api/auth/two-factor/verify", data=data).status_code == 503
    assert client.get("/api/auth/session").get_json() == {}


def test_flask_config_key_switches_it_on() -> None:
    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    app = Flask(__name__)
    app.config.update(AUTHGUARD_SECRET=SECRET, AUTHGUARD_TWO_FACTOR=True)
    guard = AuthGuard(app, {"adapter": SQLAlchemyAdapter("sqlite://", create_tables=True)})
    assert guard is not None and app.extensions["authguard"].config.two_factor is not None
    bad = Flask(__name__)
    bad.config.update(AUTHGUARD_SECRET=SECRET, AUTHGUARD_TWO_FACTOR="yes")
    with pytest.raises(ConfigurationError, match="AUTHGUARD_TWO_FACTOR"):
        AuthGuard(bad, {})
    no_adapter = Flask(__name__)
    no_adapter.config.update(AUTHGUARD_SECRET=SECRET, AUTHGUARD_TWO_FACTOR=True)
    with pytest.raises(ConfigurationError, match="two_factor"):
        AuthGuard(no_adapter, {})


def test_auth_required_mfa_api_answer(frozen_clock: FrozenClock) -> None:
    opts, _ = options("jwt")
    app = Flask(__name__)
    AuthGuard(app, opts)

    @app.get("/api/data")
    @auth_required(mfa=True)
    def data() -> dict[str, str]:
        return {"ok": "yes"}

    client = client_of(app)
    assert client.get("/api/data", headers={"Accept": "application/json"}).status_code == 401
    sign_in(client)
    answer = client.get("/api/data", headers={"Accept": "application/json"})
    assert (
        answer.status_code == 401
        and answer.get_json()["url"] == f"{BASE}/api/auth/two-factor?callbackUrl=%2Fapi%2Fdata"
    )
    enrol(client, frozen_clock.now)
    assert client.get("/api/data", headers={"Accept": "application/json"}).get_json() == {"ok": "yes"}


class Answering:
    """An inner middleware that answers every request it is given itself."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def __call__(self, request: Request) -> Response:
        self.ran.append(request.path)
        return Response("the inner middleware's answer")


@pytest.mark.parametrize("kind", KINDS)
def test_the_inner_middleware_runs_only_after_the_second_factor(kind: str, frozen_clock: FrozenClock) -> None:
    inner = Answering()
    opts, _ = options("jwt")
    client = client_of(make_site(kind, opts, middleware=inner))
    sign_in(client)
    refused = client.get("/mfa")
    assert refused.status_code == 307
    assert refused.headers["Location"] == f"{BASE}/api/auth/two-factor?callbackUrl=%2Fmfa"
    assert inner.ran == []  # never asked (nor able to answer) for a session without the second factor
    enrol(client, frozen_clock.now)
    assert client.get("/mfa").get_data(as_text=True) == "the inner middleware's answer"
    assert inner.ran == ["/mfa"]


def test_protect_with_mfa_runs_the_inner_middleware_after_it(frozen_clock: FrozenClock) -> None:
    inner = Answering()
    opts, _ = options("jwt")
    client = client_of(blueprint_app(opts, middleware=inner))
    sign_in(client)
    assert client.get("/admin/").headers["Location"].startswith(f"{BASE}/api/auth/two-factor?")
    assert inner.ran == []
    enrol(client, frozen_clock.now)
    assert client.get("/admin/").get_data(as_text=True) == "the inner middleware's answer"
    assert inner.ran == ["/admin/"]
