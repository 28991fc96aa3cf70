"""Email (magic link) sign-in (issue 13) with a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import email
import email.policy
import functools
import hashlib
import pathlib
import re
import threading
import typing as t
from urllib.parse import urlsplit

import pytest
from conftest import SECRET, FrozenClock
from support.handler_app import BASE, CURRENT_KIND, client_of, make_app
from support.oauth_flow import cookie_of, query
from support.processes import free_port

from flask_authguard import ConfigurationError, EmailProvider
from flask_authguard.providers.email import normalize_identifier

pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller", reason='pip install -e ".[test]"')
from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter  # noqa: E402

SESSION = "next-auth.session-token"


class Inbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[t.Any] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        self.messages.append(
            t.cast(
                email.message.EmailMessage,
                email.message_from_bytes(envelope.content, policy=email.policy.default),
            )
        )
        self.arrived.set()
        return "250 Message accepted for delivery"

    def link(self) -> str:
        body = self.messages[-1].get_body(preferencelist=("plain",))
        assert body is not None
        match = re.search(r"https?://\S+", body.get_content())
        assert match is not None
        return match.group(0)


def record(events: list[str], name: str, **kwargs: t.Any) -> None:
    events.append(name)


@pytest.fixture
def smtp() -> t.Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def adapter(tmp_path: pathlib.Path) -> SQLAlchemyAdapter:
    return SQLAlchemyAdapter(f"sqlite:///{tmp_path / 'auth.db'}", create_tables=True)


def email_app(adapter: t.Any, port: int, **options: t.Any) -> t.Any:
    provider = EmailProvider(server=f"smtp://127.0.0.1:{port}", from_address="Auth <auth@example.com>")
    return make_app(providers=[provider], adapter=adapter, **options)


def request_link(client: t.Any, address: str = "Jo@Example.COM", callback_url: str = "/private") -> t.Any:
    csrf = client.get("/api/auth/csrf").get_json()["csrfToken"]
    return client.post(
        "/api/auth/signin/email", data={"csrfToken": csrf, "email": address, "callbackUrl": callback_url}
    )


def follow(client: t.Any, link: str) -> t.Any:
    parts = urlsplit(link)
    return client.get(f"{parts.path}?{parts.query}")


def test_magic_link_signs_in_once(smtp: tuple[Inbox, int], adapter: SQLAlchemyAdapter) -> None:
    inbox, port = smtp
    events: list[str] = []
    client = client_of(
        email_app(
            adapter,
            port,
            events={n: functools.partial(record, events, n) for n in ("create_user", "sign_in")},
        )
    )
    response = request_link(client)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE}/api/auth/verify-request?provider=email&type=email"
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and "Check your email" in page.get_data(as_text=True)
    assert inbox.arrived.wait(5)
    message = inbox.messages[-1]
    assert message["To"] == "jo@example.com" and message["From"] == "Auth <auth@example.com>"
    assert message["Subject"] == "Sign in to app.example.com"
    link = inbox.link()
    params = query(link)
    assert link.startswith(f"{BASE}/api/auth/callback/email?")
    assert params["email"] == "jo@example.com" and params["callbackUrl"] == f"{BASE}/private"
    assert re.fullmatch(r"[0-9a-f]{64}", params["token"])
    # Stored hashed as next-auth hashes it: sha256(token + secret).
    with adapter.engine.connect() as conn:
        from sqlalchemy import select

        row = conn.execute(select(adapter.tables.verification_token)).one()
    assert row.token == hashlib.sha256((params["token"] + SECRET).encode()).hexdigest()
    assert row.identifier == "jo@example.com"

    signed_in = follow(client, link)
    assert signed_in.headers["Location"] == f"{BASE}/private"
    user = adapter.get_user_by_email("jo@example.com")
    assert user is not None and user["emailVerified"] is not None
    assert adapter.get_session_and_user(cookie_of(client, SESSION) or "") is not None
    assert events == ["create_user", "sign_in"]

    # The link is dead now, in any browser.
    again = client_of(client.application)
    dead = follow(again, link)
    assert query(dead.headers["Location"])["error"] == "Verification"
    assert cookie_of(again, SESSION) is None
    page = again.get(dead.headers["Location"])
    assert page.status_code == 403 and "no longer valid" in page.get_data(as_text=True)


def test_existing_user_is_verified_not_duplicated(
    smtp: tuple[Inbox, int], adapter: SQLAlchemyAdapter
) -> None:
    inbox, port = smtp
    existing = adapter.create_user(
        {"name": "Jo", "email": "jo@example.com", "emailVerified": None, "image": None}
    )
    client = client_of(email_app(adapter, port))
    request_link(client)
    assert inbox.arrived.wait(5)
    follow(client, inbox.link())
    found = adapter.get_session_and_user(cookie_of(client, SESSION) or "")
    assert found is not None and found["user"]["id"] == existing["id"]
    assert found["user"]["emailVerified"] is not None


def test_link_expires_after_24_hours(
    smtp: tuple[Inbox, int], adapter: SQLAlchemyAdapter, frozen_clock: FrozenClock
) -> None:
    inbox, port = smtp
    client = client_of(email_app(adapter, port))
    request_link(client)
    assert inbox.arrived.wait(5)
    frozen_clock.now += 24 * 60 * 60 + 1
    response = follow(client, inbox.link())
    assert query(response.headers["Location"])["error"] == "Verification"
    assert adapter.get_user_by_email("jo@example.com") is None


def test_link_valid_just_before_24_hours(
    smtp: tuple[Inbox, int], adapter: SQLAlchemyAdapter, frozen_clock: FrozenClock
) -> None:
    inbox, port = smtp
    client = client_of(email_app(adapter, port))
    request_link(client)
    assert inbox.arrived.wait(5)
    frozen_clock.now += 24 * 60 * 60 - 5
    assert follow(client, inbox.link()).headers["Location"] == f"{BASE}/private"


@pytest.mark.parametrize("change", ["token", "email"])
def test_forged_link(smtp: tuple[Inbox, int], adapter: SQLAlchemyAdapter, change: str) -> None:
    inbox, port = smtp
    client = client_of(email_app(adapter, port))
    request_link(client)
    assert inbox.arrived.wait(5)
    link = inbox.link()
    value = query(link)[change]
    forged = link.replace(
        f"{change}={value}" if change == "token" else "email=jo%40example.com",
        f"{change}={'0' * 64}" if change == "token" else "email=eve%40example.com",
    )
    assert forged != link
    assert query(follow(client, forged).headers["Location"])["error"] == "Verification"


def test_callback_without_token(smtp: tuple[Inbox, int], adapter: SQLAlchemyAdapter) -> None:
    client = client_of(email_app(adapter, smtp[1]))
    assert query(client.get("/api/auth/callback/email").headers["Location"])["error"] == "Verification"


@pytest.mark.parametrize(
    "address",
    [
        "",
        "no-at-sign",
        "a@b@c",
        '"quoted"@example.com',
        "@example.com",
        "jo@example.com,eve@evil.com",
        # issue 27: an address that a mail header would split into two recipients
        "a,victim@example.com",
        "a;victim@example.com",
        "a victim@example.com",
        "a:victim@example.com",
        "<victim@example.com>x@example.com",
        "ａ，victim@example.com",  # a full-width comma is a comma after NFKC
        "victim@example.com;other.example",
        "victim@exa mple.com",
    ],
)
def test_bad_address(smtp: tuple[Inbox, int], adapter: SQLAlchemyAdapter, address: str) -> None:
    inbox, port = smtp
    client = client_of(email_app(adapter, port))
    response = request_link(client, address)
    assert query(response.headers["Location"])["error"] == "EmailSignin"
    assert not inbox.messages


def test_smtp_down(adapter: SQLAlchemyAdapter) -> None:
    client = client_of(email_app(adapter, free_port()))
    response = request_link(client)
    assert query(response.headers["Location"])["error"] == "EmailSignin"
    page = client.get(client.get(response.headers["Location"]).headers["Location"]).get_data(as_text=True)
    assert "The e-mail could not be sent." in page


def test_custom_sender(adapter: SQLAlchemyAdapter) -> None:
    sent: list[dict[str, t.Any]] = []
    provider = EmailProvider(send_verification_request=lambda **kw: sent.append(kw))
    client = client_of(make_app(providers=[provider], adapter=adapter))
    request_link(client, " Ann@Example.org ")
    assert sent[0]["identifier"] == "ann@example.org" and sent[0]["provider"] is provider
    assert sent[0]["url"].startswith(f"{BASE}/api/auth/callback/email?")
    assert follow(client, sent[0]["url"]).headers["Location"] == f"{BASE}/private"


def test_sign_in_page_has_the_email_form(adapter: SQLAlchemyAdapter) -> None:
    client = client_of(make_app(providers=[EmailProvider(send_verification_request=print)], adapter=adapter))
    page = client.get("/api/auth/signin").get_data(as_text=True)
    assert f'action="{BASE}/api/auth/signin/email"' in page and 'name="email" type="email"' in page
    assert client.get("/api/auth/providers").get_json()["email"]["type"] == "email"


def test_needs_an_adapter() -> None:
    with pytest.raises(ConfigurationError, match="adapter"):
        make_app(providers=[EmailProvider(send_verification_request=print)])


def test_needs_a_server_or_sender() -> None:
    with pytest.raises(ConfigurationError, match="server"):
        EmailProvider()
    with pytest.raises(ConfigurationError):
        EmailProvider(server="http://smtp.example.com")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Jo@Example.COM", "jo@example.com"),
        ("  jo@example.com  ", "jo@example.com"),
        ("jo@example.com,extra", "jo@example.com"),
        ("ｊｏ@example.com", "jo@example.com"),
    ],
)
def test_normalize_identifier(raw: str, normal: str) -> None:
    assert normalize_identifier(raw) == normal


def test_verify_request_page_override(adapter: SQLAlchemyAdapter) -> None:
    provider = EmailProvider(send_verification_request=print)
    app = make_app(providers=[provider], adapter=adapter, pages={"verify_request": "/check-inbox"})
    response = client_of(app).get("/api/auth/verify-request")
    assert response.status_code == 302 and response.headers["Location"] == f"{BASE}/check-inbox"


def test_email_with_jwt_sessions(adapter: SQLAlchemyAdapter) -> None:
    from flask_authguard import decode

    sent: list[dict[str, t.Any]] = []
    provider = EmailProvider(send_verification_request=lambda **kw: sent.append(kw))
    client = client_of(make_app(providers=[provider], adapter=adapter, session={"strategy": "jwt"}))
    request_link(client)
    follow(client, sent[0]["url"])
    user = adapter.get_user_by_email("jo@example.com")
    claims = decode(token=cookie_of(client, SESSION), secret=SECRET)
    assert user is not None and claims is not None and claims["sub"] == user["id"]
    assert claims["email"] == "jo@example.com"


def test_sign_in_callback_can_refuse_the_address(adapter: SQLAlchemyAdapter) -> None:
    sent: list[dict[str, t.Any]] = []
    seen: list[dict[str, t.Any]] = []

    def sign_in(**kwargs: t.Any) -> bool:
        seen.append(kwargs)
        return not kwargs["user"]["email"].endswith("@blocked.example")

    provider = EmailProvider(send_verification_request=lambda **kw: sent.append(kw))
    client = client_of(make_app(providers=[provider], adapter=adapter, callbacks={"sign_in": sign_in}))
    response = request_link(client, "eve@blocked.example")
    assert query(response.headers["Location"])["error"] == "AccessDenied"
    assert not sent and seen[0]["email"] == {"verificationRequest": True}


@pytest.mark.parametrize(
    ("answer", "lands_on"),
    [
        pytest.param("/welcome?from=email", f"{BASE}/welcome?from=email", id="path"),
        pytest.param("https://evil.example/phish", BASE, id="another-origin-gives-the-base-url"),
        pytest.param("", None, id="empty-is-a-refusal"),
    ],
)
def test_a_url_from_the_sign_in_callback_is_followed_and_no_link_sent(
    adapter: SQLAlchemyAdapter, answer: str, lands_on: str | None
) -> None:
    """next-auth's string answer: the browser goes there (through ``callbacks.redirect``'s rule)
    and nothing is mailed; it was read as a refusal (``AccessDenied``)."""
    sent: list[dict[str, t.Any]] = []
    provider = EmailProvider(send_verification_request=lambda **kw: sent.append(kw))
    callbacks = {"sign_in": lambda **kw: answer}
    client = client_of(make_app(providers=[provider], adapter=adapter, callbacks=callbacks))
    response = request_link(client)
    assert response.status_code == 302 and not sent
    if lands_on is None:  # next-auth reads an empty string as false
        assert query(response.headers["Location"])["error"] == "AccessDenied"
    else:
        assert response.headers["Location"] == lands_on


def test_existing_user_fires_update_user_and_is_not_new(adapter: SQLAlchemyAdapter) -> None:
    """next-auth's email rule: the user with the address is verified (``events.update_user``);
    ``is_new_user`` is false and ``account.userId`` names that user."""
    existing = adapter.create_user(
        {"name": "Jo", "email": "jo@example.com", "emailVerified": None, "image": None}
    )
    sent: list[dict[str, t.Any]] = []
    seen: list[tuple[str, dict[str, t.Any]]] = []

    def recorder(name: str) -> t.Callable[..., None]:
        return lambda **kw: seen.append((name, kw))

    events = {name: recorder(name) for name in ("create_user", "update_user", "sign_in")}
    provider = EmailProvider(send_verification_request=lambda **kw: sent.append(kw))
    client = client_of(make_app(providers=[provider], adapter=adapter, events=events))
    request_link(client)
    follow(client, sent[0]["url"])
    assert [name for name, _ in seen] == ["update_user", "sign_in"]
    assert seen[0][1]["user"]["id"] == existing["id"] and seen[0][1]["user"]["emailVerified"] is not None
    assert seen[1][1]["is_new_user"] is False
    assert seen[1][1]["account"]["userId"] == existing["id"]


def test_new_email_user_is_a_sign_up_for_the_jwt_callback(adapter: SQLAlchemyAdapter) -> None:
    sent: list[dict[str, t.Any]] = []
    triggers: list[tuple[t.Any, t.Any]] = []

    def jwt(*, token: dict[str, t.Any], **kw: t.Any) -> dict[str, t.Any]:
        triggers.append((kw.get("trigger"), kw.get("is_new_user")))
        return token

    provider = EmailProvider(send_verification_request=lambda **kw: sent.append(kw))
    app = make_app(providers=[provider], adapter=adapter, session={"strategy": "jwt"}, callbacks={"jwt": jwt})
    client = client_of(app)
    request_link(client)
    follow(client, sent[0]["url"])
    assert triggers[0] == ("signUp", True)


class RefusingUsers(SQLAlchemyAdapter):
    """An adapter whose ``create_user`` refuses (a constraint, a trigger...) while the
    database answers."""

    def create_user(self, user: t.Mapping[str, t.Any]) -> t.Any:
        raise ValueError("refused by the database")


def test_adapter_refusing_the_user_is_email_create_account(tmp_path: pathlib.Path) -> None:
    adapter = RefusingUsers(f"sqlite:///{tmp_path / 'refuse.db'}", create_tables=True)
    sent: list[dict[str, t.Any]] = []
    provider = EmailProvider(send_verification_request=lambda **kw: sent.append(kw))
    client = client_of(make_app(providers=[provider], adapter=adapter))
    request_link(client)
    response = follow(client, sent[0]["url"])
    assert response.status_code == 302
    assert query(response.headers["Location"])["error"] == "EmailCreateAccount"
    assert cookie_of(client, SESSION) is None


@pytest.mark.parametrize(
    ("page", "location"),
    [("check-inbox", f"{BASE}/check-inbox"), ("https://other.example/inbox", "https://other.example/inbox")],
)
def test_verify_request_page_is_resolved_like_the_other_pages(
    adapter: SQLAlchemyAdapter, page: str, location: str
) -> None:
    provider = EmailProvider(send_verification_request=print)
    app = make_app(providers=[provider], adapter=adapter, pages={"verify_request": page})
    assert client_of(app).get("/api/auth/verify-request").headers["Location"] == location


@pytest.mark.parametrize("page", ["", "//evil.example/x", "/a b", 7])
def test_verify_request_page_is_validated_at_start_up(adapter: SQLAlchemyAdapter, page: t.Any) -> None:
    provider = EmailProvider(send_verification_request=print)
    with pytest.raises(ConfigurationError, match="pages.verify_request"):
        make_app(providers=[provider], adapter=adapter, pages={"verify_request": page})


def test_verify_request_without_an_email_provider_is_next_auths_400() -> None:
    response = client_of(make_app()).get("/api/auth/verify-request")
    assert response.status_code == 400


@pytest.fixture(params=["flask", "wsgi"])
def kind(request: pytest.FixtureRequest) -> t.Iterator[str]:
    """``make_app`` builds a Flask app (AuthGuard), then a plain WSGI app (with_auth)."""
    CURRENT_KIND[0] = request.param
    yield request.param
    CURRENT_KIND[0] = "flask"


def test_magic_link_in_both_kinds_of_app(adapter: SQLAlchemyAdapter, kind: str) -> None:
    sent: list[dict[str, t.Any]] = []
    provider = EmailProvider(send_verification_request=lambda **kw: sent.append(kw))
    client = client_of(make_app(providers=[provider], adapter=adapter))
    begun = request_link(client)
    assert begun.headers["Location"] == f"{BASE}/api/auth/verify-request?provider=email&type=email"
    page = client.get(begun.headers["Location"])
    assert page.status_code == 200 and "Check your email" in page.get_data(as_text=True)
    assert follow(client, sent[0]["url"]).headers["Location"] == f"{BASE}/private"
    assert client.get("/api/auth/session").get_json()["user"]["email"] == "jo@example.com"


# -- issue 27: the throttle counts the address mailed, and one address is one recipient ------------


def test_spellings_of_one_address_share_its_limit(
    smtp: tuple[Inbox, int], adapter: SQLAlchemyAdapter
) -> None:
    inbox, port = smtp
    app = email_app(adapter, port, throttle={"per_identifier": "3/minute", "per_address": "100/minute"})
    client = client_of(app)
    assert [request_link(client, "victim@example.com").status_code for _ in range(3)] == [302] * 3
    spellings = [
        "victim@example.com,0",
        "victim@example.com,1",
        "ｖｉｃｔｉｍ@ｅｘａｍｐｌｅ.ｃｏｍ",
        " VICTIM@Example.com,x",
    ]
    assert [request_link(client, s).status_code for s in spellings] == [429] * 4
    assert request_link(client, "other@example.com").status_code == 302  # only that address waits
    assert [e.rcpt_tos for e in inbox.envelopes].count(["victim@example.com"]) == 3


def test_a_custom_normalizer_cannot_name_two_recipients(adapter: SQLAlchemyAdapter) -> None:
    sent: list[str] = []
    provider = EmailProvider(
        send_verification_request=lambda identifier, **_: sent.append(identifier),
        normalize_identifier=lambda raw: raw.strip(),
    )
    client = client_of(make_app(providers=[provider], adapter=adapter))
    assert query(request_link(client, "a@x.org, b@y.org").headers["Location"])["error"] == "EmailSignin"
    assert request_link(client, "Jo@Example.COM").status_code == 302
    assert sent == ["Jo@Example.COM"]


@pytest.mark.parametrize("edited", [False, True])
def test_a_link_for_a_look_alike_address_signs_in_nobody_else(
    request: pytest.FixtureRequest, edited: bool
) -> None:
    """MySQL/MariaDB with an accent-insensitive collation (utf8mb4_general_ci, a common
    setting): a link asked for ``joe@exämple.com``, as mailed or with the victim's address
    edited in, never signs in ``joe@example.com`` (it did)."""
    from urllib.parse import urlencode

    from support.adapters import make_adapter

    adapter = make_adapter("mysql", request)
    with adapter.engine.begin() as conn:
        for table in (adapter.tables.users, adapter.tables.accounts, adapter.tables.verification_token):
            conn.exec_driver_sql(
                f"ALTER TABLE `{table.name}` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
            )
    adapter.create_user({"name": "Victim", "email": "joe@example.com", "emailVerified": None, "image": None})
    sent: list[dict[str, t.Any]] = []
    provider = EmailProvider(send_verification_request=lambda **kw: sent.append(kw))
    attacker = client_of(make_app(providers=[provider], adapter=adapter))
    request_link(attacker, "joe@exämple.com")
    link = sent[0]["url"]
    if edited:
        params = query(link)
        params["email"] = "joe@example.com"
        link = f"{urlsplit(link).path}?{urlencode(params)}"
    follow(attacker, link)
    user = (attacker.get("/api/auth/session").get_json() or {}).get("user") or {}
    assert user.get("email") != "joe@example.com"
