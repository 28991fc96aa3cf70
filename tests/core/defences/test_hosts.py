"""The trusted-origin rule (issue 27): which origin may a link use?

Every absolute link (the email sign-in link, an OAuth ``redirect_uri``, the redirects of the
endpoints and of the guard) is built on ``url``'s origin, a ``trusted_hosts`` entry, any host
with ``trust_host``, or a loopback host; never on a ``Host`` header nobody said to trust. Run
against the four front ends of ``tests/endpoints/test_handler.py`` (Flask ``AuthGuard``, ``with_auth``,
Starlette and FastAPI behind ``AuthMiddleware``).
"""

from __future__ import annotations

import logging
import pathlib
import typing as t
from urllib.parse import urlsplit

import pytest
from conftest import SECRET
from flask import Flask
from support.handler_app import APP_KINDS, BASE, CURRENT_KIND, client_of, make_app
from support.oauth_flow import query
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_authguard import ConfigurationError, EmailProvider, GitHubProvider, with_auth
from flask_authguard.core.defences.hosts import checked_host, is_loopback, trusted_host
from flask_authguard.core.settings.config import resolve_options
from flask_authguard.endpoints.messages import SERVER_ERROR

pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter  # noqa: E402

EVIL = "evil.example"
#: The Host an attacker sends (the client's cookies stay those of the real host).
SPOOFED = {"HTTP_HOST": EVIL}
#: A deployment that does not trust evil.example, and the answer its auth routes give it:
#: 400 when trusted_hosts is set, the Configuration error (500) when nothing is trusted at all.
UNTRUSTED = [
    pytest.param({"trusted_hosts": ["app.example.com"]}, 400, id="trusted_hosts"),
    pytest.param({}, 500, id="no-trusted-origin"),
]
STARTUP_WARNING = "no trusted origin configured"


@pytest.fixture(params=APP_KINDS)
def front(request: pytest.FixtureRequest) -> t.Iterator[str]:
    """``make_app`` builds this front end: flask, wsgi, starlette or fastapi."""
    CURRENT_KIND[0] = request.param
    yield request.param
    CURRENT_KIND[0] = "flask"


@pytest.fixture
def adapter(tmp_path: pathlib.Path) -> SQLAlchemyAdapter:
    return SQLAlchemyAdapter(f"sqlite:///{tmp_path / 'auth.db'}", create_tables=True)


def email_app(adapter: SQLAlchemyAdapter, sent: list[dict[str, t.Any]], **options: t.Any) -> t.Any:
    """The test app with an email provider whose sender records what it would mail; no ``url``
    unless ``options`` gives one."""
    provider = EmailProvider(send_verification_request=lambda **kw: sent.append(kw))
    return make_app(providers=[provider], adapter=adapter, **{"url": None, **options})


def csrf_of(client: t.Any) -> str:
    """A CSRF token (and its cookie) from the client's own, real host."""
    return t.cast(str, client.get("/api/auth/csrf").get_json()["csrfToken"])


def no_evil_link(response: t.Any) -> None:
    assert EVIL not in response.headers.get("Location", "")
    assert EVIL.encode() not in response.get_data()


# --------------------------------------------------------------------------- item 1: the email link


@pytest.mark.parametrize(("options", "status"), UNTRUSTED)
def test_email_sign_in_with_a_spoofed_host_mails_no_link(
    front: str, adapter: SQLAlchemyAdapter, options: dict[str, t.Any], status: int
) -> None:
    sent: list[dict[str, t.Any]] = []
    client = client_of(email_app(adapter, sent, **options))
    data = {"csrfToken": csrf_of(client), "email": "victim@example.com", "callbackUrl": "/private"}
    response = client.post("/api/auth/signin/email", data=data, environ_overrides=SPOOFED)
    assert response.status_code == status
    assert sent == []  # nothing mailed, so no link to evil.example with the victim's token
    no_evil_link(response)


def test_email_link_is_on_the_trusted_host(front: str, adapter: SQLAlchemyAdapter) -> None:
    sent: list[dict[str, t.Any]] = []
    client = client_of(email_app(adapter, sent, trusted_hosts=["app.example.com"]))
    data = {"csrfToken": csrf_of(client), "email": "jo@example.com", "callbackUrl": "/private"}
    response = client.post("/api/auth/signin/email", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/api/auth/verify-request?provider=email&type=email"
    assert sent[0]["url"].startswith(f"{BASE}/api/auth/callback/email?")


# --------------------------------------------------------------------------- the OAuth redirect_uri


def github() -> GitHubProvider:
    return GitHubProvider(client_id="id-1", client_secret="secret-1")


@pytest.mark.parametrize(("options", "status"), UNTRUSTED)
def test_oauth_redirect_uri_is_never_on_a_spoofed_host(
    front: str, options: dict[str, t.Any], status: int
) -> None:
    client = client_of(make_app(providers=[github()], url=None, **options))
    data = {"csrfToken": csrf_of(client), "callbackUrl": "/private"}
    response = client.post("/api/auth/signin/github", data=data, environ_overrides=SPOOFED)
    assert response.status_code == status
    no_evil_link(response)
    # The callback (where the code is exchanged with the same redirect_uri) is refused alike.
    back = client.get("/api/auth/callback/github?code=c&state=s", environ_overrides=SPOOFED)
    assert back.status_code == status
    no_evil_link(back)


def test_oauth_redirect_uri_is_on_the_trusted_host(front: str) -> None:
    client = client_of(make_app(providers=[github()], url=None, trusted_hosts=["app.example.com"]))
    response = client.post("/api/auth/signin/github", data={"csrfToken": csrf_of(client)})
    assert response.status_code == 302
    assert query(response.headers["Location"])["redirect_uri"] == f"{BASE}/api/auth/callback/github"


# --------------------------------------------------------------------------- pages.sign_in, callbackUrl


@pytest.mark.parametrize(("options", "status"), UNTRUSTED)
def test_the_redirect_to_pages_sign_in_is_never_on_a_spoofed_host(
    front: str, options: dict[str, t.Any], status: int
) -> None:
    client = client_of(make_app(url=None, pages={"sign_in": "/login"}, **options))
    response = client.get("/api/auth/signin?callbackUrl=%2Fprivate", environ_overrides=SPOOFED)
    assert response.status_code == status
    no_evil_link(response)


@pytest.mark.parametrize(("options", "status"), UNTRUSTED)
def test_a_spoofed_host_does_not_pass_the_callback_url_same_origin_test(
    front: str, options: dict[str, t.Any], status: int
) -> None:
    """``callbackUrl=http://evil.example/...`` was "same origin" when the origin came from
    ``Host: evil.example``: a signed-in user was sent there."""
    client = client_of(make_app(url=None, **options))
    data = {
        "csrfToken": csrf_of(client),
        "username": "ada",
        "password": "pw",
        "callbackUrl": f"http://{EVIL}/steal",
    }
    response = client.post("/api/auth/callback/credentials", data=data, environ_overrides=SPOOFED)
    assert response.status_code == status
    no_evil_link(response)


def test_on_the_trusted_host_the_routes_answer_as_before(front: str) -> None:
    client = client_of(make_app(url=None, pages={"sign_in": "/login"}, trusted_hosts=["app.example.com"]))
    page = client.get("/api/auth/signin?callbackUrl=%2Fprivate")
    assert page.status_code == 302
    assert page.headers["Location"] == f"{BASE}/login?callbackUrl={'http%3A%2F%2Fapp.example.com%2Fprivate'}"
    data = {
        "csrfToken": csrf_of(client),
        "username": "ada",
        "password": "pw",
        "callbackUrl": f"http://{EVIL}/x",
    }
    signed_in = client.post("/api/auth/callback/credentials", data=data)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == BASE  # not evil.example


# --------------------------------------------------------------------------- item 2: no trusted origin


def test_no_trusted_origin_answers_the_configuration_error(front: str) -> None:
    client = client_of(make_app(url=None), f"http://{EVIL}")
    page = client.get("/api/auth/signin")
    assert page.status_code == 500
    text = page.get_data(as_text=True)
    assert "Configuration" in text or "configuration" in text
    assert EVIL not in text  # the page's own links are relative
    data = {"csrfToken": "x", "username": "ada", "password": "pw", "json": "true"}
    api = client.post("/api/auth/callback/credentials", data=data)
    assert api.status_code == 500 and api.get_json() == {"message": SERVER_ERROR}
    assert client.get("/api/auth/providers").status_code == 500  # its URLs are absolute links
    # Routes that build no link answer on any host.
    assert client.get("/api/auth/session").status_code == 200
    assert client.get("/api/auth/csrf").status_code == 200


@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "127.0.0.1:5000", "[::1]:5000"])
def test_a_loopback_host_needs_no_configuration(front: str, adapter: SQLAlchemyAdapter, host: str) -> None:
    sent: list[dict[str, t.Any]] = []
    client = client_of(email_app(adapter, sent), f"http://{host}")
    assert client.get("/api/auth/signin").status_code == 200
    data = {"csrfToken": csrf_of(client), "email": "jo@example.com", "callbackUrl": "/private"}
    response = client.post("/api/auth/signin/email", data=data)
    assert response.status_code == 302
    assert sent[0]["url"].startswith(f"http://{host}/api/auth/callback/email?")


@pytest.mark.parametrize("how", ["option", "environment"])
def test_trust_host_opts_out(
    front: str, adapter: SQLAlchemyAdapter, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[dict[str, t.Any]] = []
    if how == "environment":
        monkeypatch.setenv("AUTH_TRUST_HOST", "true")
        app = email_app(adapter, sent)
    else:
        app = email_app(adapter, sent, trust_host=True)
    client = client_of(app, "http://proxied.example")
    data = {"csrfToken": csrf_of(client), "email": "jo@example.com", "callbackUrl": "/private"}
    response = client.post("/api/auth/signin/email", data=data)
    assert response.status_code == 302
    assert sent[0]["url"].startswith("http://proxied.example/api/auth/callback/email?")


def test_startup_warns_once_without_a_trusted_origin(
    front: str, adapter: SQLAlchemyAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[dict[str, t.Any]] = []
    with caplog.at_level(logging.WARNING, logger="flask_authguard"):
        app = email_app(adapter, sent)
        client = client_of(app, "http://localhost")
        client.get("/api/auth/signin")
        client.get("/api/auth/session")
    warnings = [r for r in caplog.records if STARTUP_WARNING in r.getMessage()]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "url" in message and "trusted_hosts" in message and "trust_host" in message
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="flask_authguard"):
        for options in ({"url": BASE}, {"trusted_hosts": ["app.example.com"]}, {"trust_host": True}):
            email_app(adapter, sent, **options)
    assert not [r for r in caplog.records if STARTUP_WARNING in r.getMessage()]


@pytest.mark.parametrize("value", ["yes please", "2"])
def test_a_bad_auth_trust_host_fails_at_start_up(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_TRUST_HOST", value)
    with pytest.raises(ConfigurationError, match="AUTH_TRUST_HOST"):
        resolve_options({"secret": SECRET})


@pytest.mark.parametrize("value", ["true", 1, "yes"])
def test_a_bad_trust_host_fails_at_start_up(value: t.Any) -> None:
    with pytest.raises(ConfigurationError, match="trust_host"):
        resolve_options({"secret": SECRET, "trust_host": value})


@pytest.mark.parametrize(("raw", "trusted"), [("true", True), ("1", True), ("FALSE", False), ("", False)])
def test_auth_trust_host_values(raw: str, trusted: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_TRUST_HOST", raw)
    assert resolve_options({"secret": SECRET}).trust_host is trusted
    assert resolve_options({"secret": SECRET, "trust_host": False}).trust_host is False  # option wins


# --------------------------------------------------------------------------- the guard's redirect


def test_the_guards_redirect_uses_url_whatever_the_host(front: str) -> None:
    client = client_of(make_app(), f"http://{EVIL}")  # make_app sets url=BASE
    response = client.get("/private")
    assert response.status_code == 307
    assert response.headers["Location"] == f"{BASE}/api/auth/signin?callbackUrl=%2Fprivate"


def test_the_guards_redirect_is_relative_without_a_trusted_origin(front: str) -> None:
    client = client_of(make_app(url=None), f"http://{EVIL}")
    response = client.get("/private")
    assert response.status_code == 307
    assert response.headers["Location"] == "/api/auth/signin?callbackUrl=%2Fprivate"


# --------------------------------------------------------------------------- X-Forwarded-Prefix


def behind_prefix_fix(app: t.Any) -> t.Any:
    """``app`` behind ``ProxyFix(x_prefix=1)``: the client's X-Forwarded-Prefix is SCRIPT_NAME."""
    if isinstance(app, Flask):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_prefix=1)  # type: ignore[method-assign]
        return app
    return ProxyFix(app, x_prefix=1)


@pytest.mark.parametrize(
    "prefix", [".evil.example", ":443@evil.example", "//evil.example", "/\\evil.example"]
)
def test_x_forwarded_prefix_cannot_change_the_host_of_a_link(
    front: str, adapter: SQLAlchemyAdapter, prefix: str
) -> None:
    sent: list[dict[str, t.Any]] = []
    url = "https://app.example.com"
    client = client_of(behind_prefix_fix(email_app(adapter, sent, url=url)), url)
    data = {"csrfToken": csrf_of(client), "email": "jo@example.com", "callbackUrl": "/private"}
    headers = {"X-Forwarded-Prefix": prefix}
    response = client.post("/api/auth/signin/email", data=data, headers=headers)
    assert response.status_code == 302
    for link in (sent[0]["url"], response.headers["Location"]):
        assert link.startswith(url + "/"), link
        assert urlsplit(link).hostname == "app.example.com", link
    guard = client.get("/private", headers=headers)
    assert guard.status_code == 307
    assert guard.headers["Location"].startswith(url + "/")
    assert urlsplit(guard.headers["Location"]).hostname == "app.example.com"


def test_a_relative_redirect_never_becomes_protocol_relative() -> None:
    """No trusted origin: the guard's Location is a path; a client-set mount point of
    ``//evil.example`` or ``/\\evil.example`` must not turn it into ``//evil.example/...``."""
    app = ProxyFix(with_auth(lambda e, s: [], {"secret": SECRET}), x_prefix=1)
    from werkzeug.test import Client

    for prefix in ("//evil.example", "/\\evil.example", "/%2F/evil.example"):
        response = Client(app).get(
            "/dashboard", base_url="http://example.com", headers={"X-Forwarded-Prefix": prefix}
        )
        location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), location


# --------------------------------------------------------------------------- the rule itself


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST:80", True),
        ("127.1.2.3", True),
        ("[::1]", True),
        ("::1", False),
        ("localhost.example", False),
        ("0.0.0.0", False),
        ("", False),
        ("x" * 63 + ".localhost", True),
        # not host names: IDNA (and so every link built on them) refuses them
        ("a..localhost", False),
        (".localhost", False),
        ("x" * 64 + ".localhost", False),
        ("x" * 64 + ".localhost:80", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def host_environ(host: str) -> dict[str, str]:
    return {"HTTP_HOST": host, "wsgi.url_scheme": "http"}


#: Hosts with an empty DNS label or one over 63 characters: not host names.
BAD_LABELS = [
    "a..localhost",
    ".localhost",
    "x" * 64 + ".localhost",
    "a..example.com",
    "x" * 64 + ".example.com",
]


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "example.com.",
        "x" * 63 + ".example.com:8080",
        "localhost:5000",
        "[::1]:5000",
        "1.2.3.4",
    ],
)
def test_checked_host_keeps_a_host_name(host: str) -> None:
    assert checked_host(host_environ(host)) == host


@pytest.mark.parametrize("host", ["a b", "example.com:99999", "[::1..2]", ".", "a.."] + BAD_LABELS)
def test_checked_host_refuses_what_is_no_host_name(host: str) -> None:
    with pytest.raises(BadRequest):
        checked_host(host_environ(host))


def test_trusted_host_refuses_an_empty_or_long_label() -> None:
    trusted = [".example.com"]
    assert trusted_host(host_environ("a.example.com"), trusted) == "a.example.com"
    assert trusted_host(host_environ("x" * 63 + ".example.com"), trusted) is not None
    for host in ("a..example.com", ".example.com", "x" * 64 + ".example.com", "a b.example.com"):
        assert trusted_host(host_environ(host), trusted) is None, host


#: How each deployment answers a ``Host`` that is no host name: the guard's sign-in redirect is
#: relative (no trusted origin to put on it) unless ``trusted_hosts`` refuses the host first (400),
#: and an endpoint that builds a link refuses it (400). ``a b`` is the malformed host of reference.
HOST_ANSWERS = [
    pytest.param({}, 307, id="default"),
    pytest.param({"trust_host": True}, 307, id="trust_host"),
    pytest.param({"trusted_hosts": [".example.com", ".localhost"]}, 400, id="trusted_hosts"),
]


@pytest.mark.parametrize(("options", "guard_status"), HOST_ANSWERS)
@pytest.mark.parametrize("host", ["a b.example.com", *BAD_LABELS])
def test_a_host_with_a_bad_label_is_refused_not_an_error(
    front: str, options: dict[str, t.Any], guard_status: int, host: str
) -> None:
    client = client_of(make_app(url=None, **options), "http://localhost")
    spoofed = {"HTTP_HOST": host}
    guard = client.get("/private", environ_overrides=spoofed)
    assert guard.status_code == guard_status
    if guard_status == 307:
        assert guard.headers["Location"] == "/api/auth/signin?callbackUrl=%2Fprivate"
    data = {"csrfToken": csrf_of(client), "username": "ada", "password": "pw"}
    endpoint = client.post("/api/auth/signin/credentials", data=data, environ_overrides=spoofed)
    assert endpoint.status_code == 400
