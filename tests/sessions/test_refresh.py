"""Provider access-token refresh (issue 30.1) against a real OpenID Connect provider process
(``tests/node_oidc/server.mjs``: the refresh grant with rotation, short-lived access tokens, a
count of refresh calls, refuse and down modes), on Flask, plain WSGI and FastAPI, with JWT and
database sessions."""

from __future__ import annotations

import json
import pathlib
import threading
import time
import typing as t

import pytest
from conftest import SECRET, FrozenClock
from support.handler_app import client_of
from support.oauth_app import PROFILE_CLAIMS
from support.oauth_flow import cookie_of, sign_in
from support.processes import free_port, stop
from support.refresh_app import KINDS, PROVIDER, make, options

from flask_authguard import ConfigurationError, decode, encode
from flask_authguard.sessions.provider_tokens import PROVIDER_TOKENS, REFRESH_ERROR

pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter  # noqa: E402

if t.TYPE_CHECKING:
    from support.oidc_server import OIDCServer

SESSION = "next-auth.session-token"
#: Short enough to be due at once (the leeway is 60 s), long enough to be fresh afterwards.
DUE, FRESH = 30, 3600


class Setup:
    """An app of one kind and strategy, and how to see the tokens it keeps."""

    def __init__(
        self,
        kind: str,
        strategy: str,
        idp: OIDCServer,
        tmp_path: pathlib.Path,
        layout: str = "pg",
        **extra: t.Any,
    ):
        self.idp = idp
        self.adapter: SQLAlchemyAdapter | None = None
        if strategy == "database":
            url = f"sqlite:///{tmp_path / 'auth.db'}"
            self.adapter = SQLAlchemyAdapter(url, layout=layout, create_tables=True)
            extra["adapter"] = self.adapter
        self.app = make(kind, options(idp.issuer, **extra))
        self.client = client_of(self.app)

    def sign_in(self, client: t.Any = None) -> None:
        self.idp.scenario(access_ttl=DUE, claims=PROFILE_CLAIMS)
        response = sign_in(client or self.client, PROVIDER)
        assert response.status_code == 302, response.data[:300]

    def stored(self, client: t.Any = None) -> dict[str, t.Any]:
        """The tokens kept: the session token's claim, or the accounts row."""
        if self.adapter is None:
            value = cookie_of(client or self.client, SESSION)
            assert value is not None
            claims = decode(token=value, secret=SECRET)
            assert claims is not None
            return t.cast("dict[str, t.Any]", claims[PROVIDER_TOKENS][PROVIDER])
        user = self.adapter.get_user_by_account({"provider": PROVIDER, "providerAccountId": "johndoe"})
        assert user is not None
        account = self.adapter.get_user_account(user["id"], PROVIDER)
        assert account is not None
        return dict(account)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return t.cast(str, request.param)


@pytest.fixture(params=["jwt", "database"])
def strategy(request: pytest.FixtureRequest) -> str:
    return t.cast(str, request.param)


def get_token(client: t.Any) -> t.Any:
    return client.get("/token", headers={"Accept": "application/json"})


def test_refresh_replaces_the_tokens(
    kind: str, strategy: str, idp: OIDCServer, tmp_path: pathlib.Path
) -> None:
    setup = Setup(kind, strategy, idp, tmp_path)
    setup.sign_in()
    first = setup.stored()
    assert first["access_token"] and first["refresh_token"] and isinstance(first["expires_at"], int)

    idp.scenario(access_ttl=FRESH)
    response = get_token(setup.client)
    assert response.status_code == 200, response.data[:300]
    token = response.get_json()["token"]
    assert token and token != first["access_token"]
    stored = setup.stored()
    assert stored["access_token"] == token
    assert stored["refresh_token"] != first["refresh_token"]  # rotated
    assert isinstance(stored["expires_at"], int) and stored["expires_at"] > first["expires_at"] + 3000
    assert idp.stats() == {"refresh_calls": 1, "refused": 0, "reused": 0, "down": 0}

    # Fresh now: handed out as it is, nothing asked of the provider.
    assert get_token(setup.client).get_json()["token"] == token
    assert idp.stats()["refresh_calls"] == 1
    session = setup.client.get("/api/auth/session").get_json()
    assert session["user"]["email"] == "jo@example.com" and "error" not in session


@pytest.mark.parametrize("layout", ["prisma", "drizzle"])
def test_refresh_on_prisma_and_drizzle_tables(layout: str, idp: OIDCServer, tmp_path: pathlib.Path) -> None:
    """The accounts row with text user ids (and Prisma's ``updatedAt``) is read and refreshed."""
    setup = Setup("wsgi", "database", idp, tmp_path, layout=layout)
    setup.sign_in()
    first = setup.stored()
    idp.scenario(access_ttl=FRESH)
    token = get_token(setup.client).get_json()["token"]
    assert token != first["access_token"] and setup.stored()["access_token"] == token
    assert idp.stats()["refresh_calls"] == 1


def test_the_refresh_id_token_has_no_nonce_and_is_kept(idp: OIDCServer, tmp_path: pathlib.Path) -> None:
    """Keycloak and Okta answer a refresh with a new ID token without ``nonce``: accepted (the
    accounts row holds it)."""
    setup = Setup("flask", "database", idp, tmp_path)
    setup.sign_in()
    before = setup.stored()["id_token"]
    idp.scenario(access_ttl=FRESH)
    assert get_token(setup.client).status_code == 200
    after = setup.stored()["id_token"]
    assert after and after != before
    assert "nonce" in _payload(before) and "nonce" not in _payload(after)


def _payload(jwt: str) -> dict[str, t.Any]:
    import base64

    part = jwt.split(".")[1]
    return t.cast("dict[str, t.Any]", json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


@pytest.mark.parametrize("mode", ["refuse", "down"])
def test_a_failed_refresh_signs_nobody_out_and_recovers(
    kind: str, strategy: str, mode: str, idp: OIDCServer, tmp_path: pathlib.Path
) -> None:
    setup = Setup(kind, strategy, idp, tmp_path)
    setup.sign_in()
    first = setup.stored()
    idp.scenario(**({"refresh_refuse": True} if mode == "refuse" else {"token_down": True}))
    response = get_token(setup.client)
    assert response.status_code == 401
    assert response.get_json() == {
        "error": "AccessTokenError",
        "reason": "refused" if mode == "refuse" else "unavailable",
        "provider": PROVIDER,
    }
    assert not any("Max-Age=0" in h for h in response.headers.getlist("Set-Cookie"))
    # still signed in, marked
    assert setup.client.get("/private").status_code == 200
    session = setup.client.get("/api/auth/session").get_json()
    assert session["error"] == REFRESH_ERROR and "user" in session
    assert setup.stored()["refresh_token"] == first["refresh_token"]  # kept
    stats = idp.stats()
    assert stats["refresh_calls" if mode == "refuse" else "down"] == 1

    # the next call tries again; the provider is back
    idp.scenario(access_ttl=FRESH)
    response = get_token(setup.client)
    assert response.status_code == 200, response.data[:300]
    assert response.get_json()["token"] == setup.stored()["access_token"] != first["access_token"]
    assert "error" not in setup.client.get("/api/auth/session").get_json()
    assert idp.stats()["refresh_calls"] == 1


def test_sign_in_again_clears_the_mark(strategy: str, idp: OIDCServer, tmp_path: pathlib.Path) -> None:
    setup = Setup("flask", strategy, idp, tmp_path)
    setup.sign_in()
    idp.scenario(refresh_refuse=True)
    assert get_token(setup.client).status_code == 401
    assert setup.client.get("/api/auth/session").get_json()["error"] == REFRESH_ERROR
    setup.sign_in()
    assert "error" not in setup.client.get("/api/auth/session").get_json()
    assert setup.stored()["access_token"]


def test_the_marked_cookie_reaches_an_error_response(idp: OIDCServer, tmp_path: pathlib.Path) -> None:
    """A view that lets AccessTokenError through (a 500) still sets the marked session cookie."""
    setup = Setup("flask", "jwt", idp, tmp_path)
    setup.app.testing = False  # a real 500 instead of the exception in the test
    setup.sign_in()
    idp.scenario(refresh_refuse=True)
    response = setup.client.get("/boom")
    assert response.status_code == 500
    value = cookie_of(setup.client, SESSION)
    assert value is not None
    assert decode(token=value, secret=SECRET)["error"] == REFRESH_ERROR
    assert any(h.startswith(f"{SESSION}=") for h in response.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize("kind", ["flask", "wsgi"])
def test_the_refresh_cookie_replaces_an_earlier_read_s(
    kind: str, idp: OIDCServer, tmp_path: pathlib.Path
) -> None:
    """``get_server_session`` then ``get_access_token`` in one view: one session cookie on the
    response, the refreshed one."""
    setup = Setup(kind, "jwt", idp, tmp_path)
    setup.sign_in()
    idp.scenario(access_ttl=FRESH)
    response = setup.client.get("/both")
    token = response.get_json()["token"]
    written = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{SESSION}=")]
    assert len(written) == 1
    assert setup.stored()["access_token"] == token


def test_without_guard_the_cookie_reaches_the_response(idp: OIDCServer) -> None:
    """``get_access_token(provider_id, options)`` in a Flask app without ``AuthGuard`` (the auth
    routes mounted beside it): the new tokens reach the view's response."""
    from flask import Flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from flask_authguard import AuthEndpoints, get_access_token

    opts = options(idp.issuer)
    app = Flask(__name__)
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/api/auth": AuthEndpoints(opts)})  # type: ignore[method-assign]

    @app.get("/token")
    def token() -> t.Any:
        return {"token": get_access_token(PROVIDER, opts)}

    client = client_of(app)
    assert client.get("/token").get_json() == {"token": None}  # nobody signed in
    idp.scenario(access_ttl=DUE)
    sign_in(client, PROVIDER)
    idp.scenario(access_ttl=FRESH)
    response = client.get("/token")
    value = response.get_json()["token"]
    assert any(h.startswith(f"{SESSION}=") for h in response.headers.getlist("Set-Cookie"))
    claims = decode(token=cookie_of(client, SESSION), secret=SECRET)
    assert claims is not None and claims[PROVIDER_TOKENS][PROVIDER]["access_token"] == value


def test_no_account_with_the_provider_and_unknown_providers(idp: OIDCServer, tmp_path: pathlib.Path) -> None:
    setup = Setup("flask", "jwt", idp, tmp_path)
    assert get_token(setup.client).get_json()["token"] is None  # nobody signed in
    from flask_authguard import get_access_token

    with setup.app.test_request_context("/"), pytest.raises(ConfigurationError, match="no provider"):
        get_access_token("nope")
    with pytest.raises(TypeError):
        get_access_token(1)  # type: ignore[call-overload]


def test_a_stale_cookie_never_sends_a_rotated_out_token(
    strategy: str, idp: OIDCServer, tmp_path: pathlib.Path
) -> None:
    """A response that set the cookie from before the refresh arrived last: the old refresh token
    is never sent again; the refresh's answer is taken from the store."""
    setup = Setup("flask", strategy, idp, tmp_path)
    setup.sign_in()
    stale = cookie_of(setup.client, SESSION)
    idp.scenario(access_ttl=FRESH)
    token = get_token(setup.client).get_json()["token"]
    other = client_of(setup.app)
    other.set_cookie(SESSION, stale)
    assert get_token(other).get_json()["token"] == token
    assert idp.stats() == {"refresh_calls": 1, "refused": 0, "reused": 0, "down": 0}


def _burst(app: t.Any, cookie: str | None, count: int = 8) -> list[t.Any]:
    """``count`` requests of one session to ``/token``, in as many threads, released together."""
    barrier = threading.Barrier(count)
    answers: list[t.Any] = []

    def call() -> None:
        client = client_of(app)
        client.set_cookie(SESSION, cookie or "")
        barrier.wait()
        response = get_token(client)
        answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=call) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == count
    return answers


def test_eight_concurrent_requests_refresh_once(
    strategy: str, idp: OIDCServer, tmp_path: pathlib.Path
) -> None:
    """8 requests of one session in 8 threads find the token due: one refresh, one new token."""
    setup = Setup("flask", strategy, idp, tmp_path)
    setup.sign_in()
    idp.scenario(access_ttl=FRESH, token_delay_ms=300)
    answers = _burst(setup.app, cookie_of(setup.client, SESSION))
    tokens = {body["token"] for status, body in answers if status == 200}
    assert len(tokens) == 1 and None not in tokens and len(answers) == 8, answers
    assert idp.stats() == {"refresh_calls": 1, "refused": 0, "reused": 0, "down": 0}


def test_concurrent_requests_share_a_refusal(strategy: str, idp: OIDCServer, tmp_path: pathlib.Path) -> None:
    """Those waiting on a refused refresh get its error without asking the provider again."""
    setup = Setup("flask", strategy, idp, tmp_path)
    setup.sign_in()
    idp.scenario(refresh_refuse=True, token_delay_ms=300)
    answers = _burst(setup.app, cookie_of(setup.client, SESSION))
    assert all(status == 401 and body["reason"] == "refused" for status, body in answers), answers
    assert idp.stats()["refresh_calls"] == 1


def test_a_cross_site_request_refreshes_nothing(idp: OIDCServer, tmp_path: pathlib.Path) -> None:
    """A cookie-authenticated POST from another site has no session: no token, no refresh."""
    setup = Setup("flask", "jwt", idp, tmp_path)
    setup.sign_in()
    idp.scenario(access_ttl=FRESH)
    forged = setup.client.post(
        "/token", headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    )
    assert forged.get_json()["token"] is None
    assert idp.stats()["refresh_calls"] == 0


@pytest.mark.parametrize("front", ["flask", "fastapi"])
def test_the_store_failing_is_a_503_and_signs_nobody_out(
    front: str, idp: OIDCServer, tmp_path: pathlib.Path
) -> None:
    setup = Setup("flask", "jwt", idp, tmp_path)
    setup.sign_in()
    broken = make(front, options(idp.issuer, store="redis://127.0.0.1:1/0", store_prefix="t-down:"))
    client = client_of(broken)
    client.set_cookie(SESSION, cookie_of(setup.client, SESSION))
    response = client.get("/token", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert not any("Max-Age=0" in h for h in response.headers.getlist("Set-Cookie"))
    assert idp.stats()["refresh_calls"] == 0


# -- two gunicorn workers sharing Redis -----------------------------------------------------------


def _serve(env: dict[str, str], port: int, folder: pathlib.Path) -> t.Any:
    """gunicorn with two sync workers serving ``support.refresh_app:app``, once both have loaded
    the app (each leaves a file in ``folder`` from gunicorn's ``post_worker_init`` hook: on a busy
    machine the second worker may still be importing when the first already answers)."""
    import os
    import subprocess
    import sys
    import time

    import requests

    tests = pathlib.Path(__file__).resolve().parent.parent
    hooks = folder / "gunicorn_ready.py"
    hooks.write_text(
        "import pathlib\n"
        "def post_worker_init(worker):\n"
        f"    pathlib.Path({str(folder)!r}, f'ready-{{worker.pid}}').touch()\n"
    )
    argv = [
        *(sys.executable, "-m", "gunicorn", "-c", str(hooks)),
        *("-b", f"127.0.0.1:{port}", "-w", "2", "support.refresh_app:app"),
    ]
    process = subprocess.Popen(
        argv,
        cwd=tests,
        env={**os.environ, **env, "PYTHONPATH": str(tests)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/api/auth/csrf", timeout=15)
            if len(list(folder.glob("ready-*"))) >= 2:
                return process
            raise requests.ConnectionError("one worker is still loading the app")
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(
                    f"gunicorn did not start: {process.communicate()[1][-2000:]!r}"
                ) from None
            time.sleep(0.2)


def test_two_gunicorn_workers_sharing_redis_refresh_once(
    strategy: str, idp: OIDCServer, redis_store: dict[str, str], tmp_path: pathlib.Path
) -> None:
    """8 concurrent requests of one session spread over two worker processes that share the Redis
    store: exactly one refresh at the provider, every request gets the new token."""
    pytest.importorskip("gunicorn", reason="gunicorn (the test extra) is not installed")
    import requests

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "REFRESH_ISSUER": idp.issuer,
        "REFRESH_URL": base,
        "REFRESH_STORE": redis_store["store"],
        "REFRESH_PREFIX": redis_store["store_prefix"],
    }
    if strategy == "database":
        url = f"sqlite:///{tmp_path / 'auth.db'}"
        SQLAlchemyAdapter(url, create_tables=True).close()
        env["REFRESH_DB"] = url
    process = _serve(env, port, tmp_path)
    try:
        browser = requests.Session()
        csrf = browser.get(f"{base}/api/auth/csrf", timeout=10).json()["csrfToken"]
        idp.scenario(access_ttl=DUE, claims=PROFILE_CLAIMS)
        begun = browser.post(
            f"{base}/api/auth/signin/{PROVIDER}",
            data={"csrfToken": csrf, "callbackUrl": f"{base}/private"},
            allow_redirects=False,
            timeout=10,
        )
        assert begun.status_code == 302, begun.text[:300]
        at_idp = requests.get(begun.headers["Location"], allow_redirects=False, timeout=10)
        back = browser.get(at_idp.headers["Location"], allow_redirects=False, timeout=10)
        assert back.status_code == 302 and back.headers["Location"] == f"{base}/private", back.text[:300]
        cookie = browser.cookies.get(SESSION)
        assert cookie

        idp.scenario(access_ttl=FRESH, token_delay_ms=500)
        barrier = threading.Barrier(8)
        answers: list[dict[str, t.Any]] = []

        def call() -> None:
            barrier.wait()
            response = requests.get(f"{base}/token", headers={"Cookie": f"{SESSION}={cookie}"}, timeout=30)
            answers.append({"status": response.status_code, **response.json()})

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(answers) == 8
        assert all(answer["status"] == 200 for answer in answers), (answers, idp.stats())
        assert len({answer["token"] for answer in answers}) == 1 and answers[0]["token"]
        assert len({answer["pid"] for answer in answers}) == 2  # both workers answered
        assert idp.stats() == {"refresh_calls": 1, "refused": 0, "reused": 0, "down": 0}
    finally:
        stop(process, timeout=20)


def test_without_rotation_the_refresh_token_is_kept(idp: OIDCServer, tmp_path: pathlib.Path) -> None:
    setup = Setup("flask", "jwt", idp, tmp_path)
    setup.sign_in()
    first = setup.stored()
    idp.scenario(access_ttl=FRESH, refresh_rotate=False)
    assert get_token(setup.client).status_code == 200
    stored = setup.stored()
    assert (
        stored["refresh_token"] == first["refresh_token"] and stored["access_token"] != first["access_token"]
    )


def test_without_rotation_each_expiry_is_refreshed_again(
    strategy: str, idp: OIDCServer, tmp_path: pathlib.Path, frozen_clock: FrozenClock
) -> None:
    """The refresh token stays the same from one refresh to the next: the first refresh's answer,
    kept in the store for requests still holding the old tokens, does not answer the next one."""
    frozen_clock.now = time.time()  # the sign-in's expires_at is the provider's wall clock
    setup = Setup("flask", strategy, idp, tmp_path)
    setup.sign_in()
    idp.scenario(access_ttl=600, refresh_rotate=False)
    first = get_token(setup.client).get_json()["token"]
    frozen_clock.now += 600  # first is due now
    second = get_token(setup.client).get_json()["token"]
    assert first and second and second != first
    stored = setup.stored()
    assert stored["access_token"] == second and stored["expires_at"] > frozen_clock.now + 500
    assert idp.stats() == {"refresh_calls": 2, "refused": 0, "reused": 0, "down": 0}


#: ``expires_in`` no provider means (the Node.js server writes the huge integers as strings:
#: Authlib takes those too).
ABSURD_EXPIRES_IN = [
    pytest.param(-1e308, id="-1e308"),
    pytest.param(1e308, id="1e308"),
    pytest.param(str(-(10**400)), id="-10**400"),
    pytest.param(str(10**400), id="10**400"),
]


@pytest.mark.parametrize("expires_in", ABSURD_EXPIRES_IN)
def test_an_absurd_expiry_at_sign_in_is_kept_within_bounds(
    strategy: str, expires_in: float | str, idp: OIDCServer, tmp_path: pathlib.Path
) -> None:
    """Authlib turns the sign-in's ``expires_in`` into ``expires_at`` as it is: the one kept is
    an integer between 0 and 10**12 (a huge one would overflow in every later expiry check)."""
    setup = Setup("flask", strategy, idp, tmp_path)
    idp.scenario(access_ttl=expires_in, claims=PROFILE_CLAIMS)
    assert sign_in(setup.client, PROVIDER).status_code == 302
    first = setup.stored()
    assert isinstance(first["expires_at"], int) and 0 <= first["expires_at"] <= 10**12
    idp.scenario(access_ttl=FRESH)
    response = get_token(setup.client)
    assert response.status_code == 200, response.data[:300]
    refreshed = float(expires_in) < 0  # expired at once; else good until 10**12
    assert (response.get_json()["token"] != first["access_token"]) is refreshed
    assert idp.stats()["refresh_calls"] == int(refreshed)


@pytest.mark.parametrize(
    "expires_at",
    [
        pytest.param(-(10**400), id="huge negative"),
        pytest.param(10**400, id="huge"),
        pytest.param(-1e308, id="huge negative float"),
        pytest.param(1_767_225_600_000, id="milliseconds"),
        pytest.param("2026-01-01T00:00:00Z", id="a string"),
    ],
)
def test_an_expiry_that_cannot_be_computed_with_is_due(
    expires_at: t.Any, idp: OIDCServer, tmp_path: pathlib.Path
) -> None:
    """A session token written elsewhere (a Next.js app, an older release) whose expires_at is
    no usable time: the access token is refreshed (and the expiry repaired), never a 500."""
    setup = Setup("flask", "jwt", idp, tmp_path)
    setup.sign_in()
    claims = decode(token=cookie_of(setup.client, SESSION), secret=SECRET)
    assert claims is not None
    claims[PROVIDER_TOKENS][PROVIDER]["expires_at"] = expires_at
    setup.client.set_cookie(SESSION, encode(token=claims, secret=SECRET))
    idp.scenario(access_ttl=FRESH)
    response = get_token(setup.client)
    assert response.status_code == 200, response.data[:300]
    stored = setup.stored()
    assert stored["access_token"] == response.get_json()["token"]
    assert time.time() + FRESH - 60 < stored["expires_at"] <= time.time() + FRESH
    assert idp.stats()["refresh_calls"] == 1


def test_a_refreshed_id_token_that_fails_verification_is_left_out(
    idp: OIDCServer, tmp_path: pathlib.Path
) -> None:
    setup = Setup("flask", "database", idp, tmp_path)
    setup.sign_in()
    first = setup.stored()
    idp.scenario(access_ttl=FRESH, tamper_signature=True)
    token = get_token(setup.client).get_json()["token"]
    stored = setup.stored()
    assert stored["access_token"] == token != first["access_token"]
    assert stored["id_token"] == first["id_token"]  # the sign-in's, verified then


def test_no_refresh_token_is_an_access_token_error(idp: OIDCServer, tmp_path: pathlib.Path) -> None:
    """A provider that issued no refresh token (the session's record lacks one)."""
    setup = Setup("flask", "jwt", idp, tmp_path)
    setup.sign_in()
    value = cookie_of(setup.client, SESSION)
    claims = decode(token=value, secret=SECRET)
    del claims[PROVIDER_TOKENS][PROVIDER]["refresh_token"]
    setup.client.set_cookie(SESSION, encode(token=claims, secret=SECRET))
    response = get_token(setup.client)
    assert response.status_code == 401 and response.get_json()["reason"] == "no_refresh_token"
    assert setup.client.get("/api/auth/session").get_json()["error"] == REFRESH_ERROR
    assert idp.stats()["refresh_calls"] == 0
