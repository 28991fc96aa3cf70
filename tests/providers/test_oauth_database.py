"""OAuth/OIDC sign-in with an adapter (issue 13): the database strategy creates the user, links
the account and creates the session in Auth.js's tables; next-auth's account-linking rule."""

from __future__ import annotations

import functools
import pathlib
import typing as t

import pytest
from conftest import SECRET
from support.adapters import CLOSED_PG_URL
from support.handler_app import client_of, make_app
from support.oauth_app import BASE, PROFILE_CLAIMS, oidc
from support.oauth_flow import cookie_of, query, sign_in

from flask_authguard import decode

pytest.importorskip("sqlalchemy", reason='SQLAlchemy is not installed: pip install -e ".[test]"')
from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter  # noqa: E402

if t.TYPE_CHECKING:
    from support.oidc_server import OIDCServer

SESSION = "next-auth.session-token"


@pytest.fixture
def adapter(tmp_path: pathlib.Path) -> SQLAlchemyAdapter:
    return SQLAlchemyAdapter(f"sqlite:///{tmp_path / 'auth.db'}", create_tables=True)


def recorder() -> tuple[list[tuple[str, dict[str, t.Any]]], dict[str, t.Any]]:
    seen: list[tuple[str, dict[str, t.Any]]] = []

    def record(name: str, **kwargs: t.Any) -> None:
        seen.append((name, kwargs))

    events = {name: functools.partial(record, name) for name in ("sign_in", "create_user", "link_account")}
    return seen, events


def test_database_strategy_creates_user_account_and_session(
    idp: OIDCServer, adapter: SQLAlchemyAdapter
) -> None:
    idp.scenario(claims=PROFILE_CLAIMS)
    seen, events = recorder()
    client = client_of(make_app(providers=[oidc(idp)], adapter=adapter, events=events))
    response = sign_in(client, "corp")
    assert response.headers["Location"] == f"{BASE}/private"
    user = adapter.get_user_by_account({"provider": "corp", "providerAccountId": "johndoe"})
    assert user is not None
    assert (user["email"], user["name"], user["image"]) == (
        "jo@example.com",
        "Jo Doe",
        "https://example.com/jo.png",
    )
    assert user["emailVerified"] is None
    token = cookie_of(client, SESSION)
    assert token is not None
    found = adapter.get_session_and_user(token)
    assert found is not None and found["user"]["id"] == user["id"]
    assert client.get("/api/auth/session").get_json()["user"]["email"] == "jo@example.com"
    assert [name for name, _ in seen] == ["create_user", "link_account", "sign_in"]
    linked = seen[1][1]
    assert linked["account"]["access_token"] and linked["account"]["id_token"]
    assert linked["user"]["id"] == user["id"]
    assert seen[2][1]["is_new_user"] is True
    with adapter.engine.connect() as conn:
        from sqlalchemy import select

        row = conn.execute(select(adapter.tables.accounts)).one()
    assert row.type == "oidc" and row.provider == "corp" and row.providerAccountId == "johndoe"
    assert row.access_token and row.id_token and row.token_type and row.expires_at

    # The second sign-in finds the same user; nothing is created.
    seen.clear()
    again = client_of(client.application)
    sign_in(again, "corp")
    assert [name for name, _ in seen] == ["sign_in"] and seen[0][1]["is_new_user"] is False
    second = adapter.get_session_and_user(cookie_of(again, SESSION) or "")
    assert second is not None and second["user"]["id"] == user["id"]


def test_jwt_strategy_with_adapter_uses_the_database_user(
    idp: OIDCServer, adapter: SQLAlchemyAdapter
) -> None:
    idp.scenario(claims=PROFILE_CLAIMS)
    triggers: list[t.Any] = []

    def jwt(*, token: dict[str, t.Any], **kw: t.Any) -> dict[str, t.Any]:
        triggers.append((kw.get("trigger"), kw.get("is_new_user")))
        return token

    app = make_app(
        providers=[oidc(idp)], adapter=adapter, session={"strategy": "jwt"}, callbacks={"jwt": jwt}
    )
    client = client_of(app)
    sign_in(client, "corp")
    user = adapter.get_user_by_email("jo@example.com")
    assert user is not None
    claims = decode(token=cookie_of(client, SESSION), secret=SECRET)
    assert claims is not None and claims["sub"] == user["id"]
    assert triggers[0] == ("signUp", True)


def test_same_email_under_another_provider_is_not_linked(idp: OIDCServer, adapter: SQLAlchemyAdapter) -> None:
    idp.scenario(claims=PROFILE_CLAIMS)
    existing = adapter.create_user(
        {"name": "Jo", "email": "jo@example.com", "emailVerified": None, "image": None}
    )
    client = client_of(make_app(providers=[oidc(idp)], adapter=adapter))
    response = sign_in(client, "corp")
    assert query(response.headers["Location"])["error"] == "OAuthAccountNotLinked"
    assert cookie_of(client, SESSION) is None
    assert adapter.get_user_by_account({"provider": "corp", "providerAccountId": "johndoe"}) is None
    page = client.get(client.get(response.headers["Location"]).headers["Location"]).get_data(as_text=True)
    assert "sign in with the same account you used originally" in page
    assert adapter.get_user(existing["id"]) is not None


def test_dangerous_email_account_linking(idp: OIDCServer, adapter: SQLAlchemyAdapter) -> None:
    idp.scenario(claims={**PROFILE_CLAIMS, "email_verified": True})  # issue 27: needed by OIDC
    existing = adapter.create_user(
        {"name": "Jo", "email": "jo@example.com", "emailVerified": None, "image": None}
    )
    provider = oidc(idp, allow_dangerous_email_account_linking=True)
    client = client_of(make_app(providers=[provider], adapter=adapter))
    assert sign_in(client, "corp").headers["Location"] == f"{BASE}/private"
    linked = adapter.get_user_by_account({"provider": "corp", "providerAccountId": "johndoe"})
    assert linked is not None and linked["id"] == existing["id"]


@pytest.mark.parametrize("verified", [False, None, "false"], ids=["false", "absent", "string-false"])
def test_no_email_linking_without_email_verified(
    idp: OIDCServer, adapter: SQLAlchemyAdapter, verified: t.Any
) -> None:
    """Issue 27: an OIDC issuer that does not say the address is verified never links the
    account to the user who owns that address, whatever ``allow_dangerous_email_account_linking``."""
    claims = dict(PROFILE_CLAIMS) if verified is None else {**PROFILE_CLAIMS, "email_verified": verified}
    idp.scenario(claims=claims)
    adapter.create_user({"name": "Jo", "email": "jo@example.com", "emailVerified": None, "image": None})
    provider = oidc(idp, allow_dangerous_email_account_linking=True)
    client = client_of(make_app(providers=[provider], adapter=adapter))
    assert query(sign_in(client, "corp").headers["Location"])["error"] == "OAuthAccountNotLinked"
    assert adapter.get_user_by_account({"provider": "corp", "providerAccountId": "johndoe"}) is None
    assert cookie_of(client, SESSION) is None


def test_email_verified_in_userinfo_links(idp: OIDCServer, adapter: SQLAlchemyAdapter) -> None:
    """With ``userinfo_request`` the profile is the userinfo answer: its ``email_verified``
    counts (Amazon Cognito's string ``"true"`` too). Its ``sub`` is the ID token's (OpenID
    Connect Core 5.3.2: another is refused, ``tests/providers/test_oidc.py``)."""
    existing = adapter.create_user(
        {"name": "Jo", "email": "jo@example.com", "emailVerified": None, "image": None}
    )

    def userinfo(**kwargs: t.Any) -> dict[str, t.Any]:
        return {"sub": "johndoe", "email": "jo@example.com", "email_verified": "true"}

    provider = oidc(idp, allow_dangerous_email_account_linking=True, userinfo_request=userinfo)
    client = client_of(make_app(providers=[provider], adapter=adapter))
    assert sign_in(client, "corp").headers["Location"] == f"{BASE}/private"
    linked = adapter.get_user_by_account({"provider": "corp", "providerAccountId": "johndoe"})
    assert linked is not None and linked["id"] == existing["id"]


@pytest.mark.parametrize(
    ("userinfo", "linked"),
    [
        ({"id": "gh-1", "email": "jo@example.com"}, True),
        ({"id": "gh-1", "email": "jo@example.com", "email_verified": False}, False),
    ],
    ids=["no-claim-the-option-decides", "claim-false"],
)
def test_plain_oauth_email_linking(
    idp: OIDCServer, adapter: SQLAlchemyAdapter, userinfo: dict[str, t.Any], linked: bool
) -> None:
    """A plain OAuth profile has no standard ``email_verified``: the option alone decides
    (next-auth's rule), unless the profile says the address is not verified."""
    from support.oauth_app import generic

    idp.scenario(userinfo=userinfo)
    existing = adapter.create_user(
        {"name": "Jo", "email": "jo@example.com", "emailVerified": None, "image": None}
    )
    provider = generic(idp, allow_dangerous_email_account_linking=True)
    client = client_of(make_app(providers=[provider], adapter=adapter))
    location = sign_in(client, "acme").headers["Location"]
    found = adapter.get_user_by_account({"provider": "acme", "providerAccountId": "gh-1"})
    if linked:
        assert location == f"{BASE}/private" and found is not None and found["id"] == existing["id"]
    else:
        assert query(location)["error"] == "OAuthAccountNotLinked" and found is None


def test_sign_in_refused_creates_nothing(idp: OIDCServer, adapter: SQLAlchemyAdapter) -> None:
    idp.scenario(claims=PROFILE_CLAIMS)
    client = client_of(
        make_app(providers=[oidc(idp)], adapter=adapter, callbacks={"sign_in": lambda **kw: False})
    )
    assert query(sign_in(client, "corp").headers["Location"])["error"] == "AccessDenied"
    assert adapter.get_user_by_email("jo@example.com") is None


def test_failed_callback_creates_nothing(idp: OIDCServer, adapter: SQLAlchemyAdapter) -> None:
    idp.scenario(claims={**PROFILE_CLAIMS, "aud": "someone-else"})
    client = client_of(make_app(providers=[oidc(idp)], adapter=adapter))
    assert query(sign_in(client, "corp").headers["Location"])["error"] == "OAuthCallback"
    assert adapter.get_user_by_email("jo@example.com") is None
    assert cookie_of(client, SESSION) is None


class RefusingAdapter(SQLAlchemyAdapter):
    """An adapter whose ``link_account`` refuses (a constraint, a trigger...)."""

    def link_account(self, account: t.Mapping[str, t.Any]) -> t.Any:
        raise ValueError("refused by the database")


def test_adapter_refusing_the_account(idp: OIDCServer, tmp_path: pathlib.Path) -> None:
    idp.scenario(claims=PROFILE_CLAIMS)
    adapter = RefusingAdapter(f"sqlite:///{tmp_path / 'refuse.db'}", create_tables=True)
    client = client_of(make_app(providers=[oidc(idp)], adapter=adapter))
    response = sign_in(client, "corp")
    assert query(response.headers["Location"])["error"] == "OAuthCreateAccount"
    assert cookie_of(client, SESSION) is None


class VanishingAdapter(SQLAlchemyAdapter):
    """An adapter whose database goes away while the account is being linked: nothing it is
    asked afterwards answers."""

    gone = False

    def link_account(self, account: t.Mapping[str, t.Any]) -> t.Any:
        self.gone = True
        raise ConnectionError("the database went away")

    def get_user_by_account(self, key: t.Mapping[str, t.Any]) -> t.Any:
        if self.gone:
            raise ConnectionError("the database went away")
        return super().get_user_by_account(key)


def test_unreachable_database_is_503_not_a_sign_in_error(idp: OIDCServer, tmp_path: pathlib.Path) -> None:
    """``OAuthCreateAccount`` only when the adapter refuses and the database still answers; a
    database that cannot be reached is the session store's 503, as for every other route."""
    idp.scenario(claims=PROFILE_CLAIMS)
    adapter = VanishingAdapter(f"sqlite:///{tmp_path / 'gone.db'}", create_tables=True)
    client = client_of(make_app(providers=[oidc(idp)], adapter=adapter))
    response = sign_in(client, "corp")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert cookie_of(client, SESSION) is None


def test_closed_database_port_is_503(idp: OIDCServer) -> None:
    idp.scenario(claims=PROFILE_CLAIMS)
    adapter = SQLAlchemyAdapter(CLOSED_PG_URL)
    client = client_of(make_app(providers=[oidc(idp)], adapter=adapter))
    assert sign_in(client, "corp").status_code == 503
    assert cookie_of(client, SESSION) is None


def test_jwt_strategy_returning_user_is_not_new(idp: OIDCServer, adapter: SQLAlchemyAdapter) -> None:
    """With an adapter, the JWT strategy also stores the user once: the second sign-in finds it
    (``trigger="signIn"``, ``is_new_user`` false for ``callbacks.jwt`` and ``events.sign_in``)."""
    idp.scenario(claims=PROFILE_CLAIMS)
    seen, events = recorder()
    triggers: list[t.Any] = []

    def jwt(*, token: dict[str, t.Any], **kw: t.Any) -> dict[str, t.Any]:
        triggers.append((kw.get("trigger"), kw.get("is_new_user")))
        return token

    options = {"adapter": adapter, "session": {"strategy": "jwt"}, "callbacks": {"jwt": jwt}}
    options["events"] = events
    sign_in(client_of(make_app(providers=[oidc(idp)], **options)), "corp")
    sign_in(client_of(make_app(providers=[oidc(idp)], **options)), "corp")
    assert [name for name, _ in seen] == ["create_user", "link_account", "sign_in", "sign_in"]
    assert [kw["is_new_user"] for name, kw in seen if name == "sign_in"] == [True, False]
    assert [tr for tr in triggers if tr[0] is not None] == [("signUp", True), ("signIn", False)]


def test_credentials_with_jwt_sessions_store_nothing(adapter: SQLAlchemyAdapter) -> None:
    """As in next-auth, only OAuth and email sign-ins are stored with JWT sessions: a
    credentials sign-in keeps the provider's user (``sub`` is its id), the adapter is untouched."""
    from support.handler_app import sign_in as credentials_sign_in

    seen, events = recorder()
    client = client_of(make_app(adapter=adapter, session={"strategy": "jwt"}, events=events))
    assert credentials_sign_in(client).status_code == 302
    claims = decode(token=cookie_of(client, SESSION), secret=SECRET)
    assert claims is not None and claims["sub"] == "1"
    assert adapter.get_user_by_email("ada@example.com") is None
    assert [name for name, _ in seen] == ["sign_in"] and seen[0][1]["is_new_user"] is False


def test_credentials_with_database_sessions_report_a_new_user(adapter: SQLAlchemyAdapter) -> None:
    """The database strategy stores every sign-in: ``events.sign_in`` gets the adapter's user
    and ``is_new_user`` true the first time only."""
    from support.handler_app import sign_in as credentials_sign_in

    seen, events = recorder()
    credentials_sign_in(client_of(make_app(adapter=adapter, events=events)))
    credentials_sign_in(client_of(make_app(adapter=adapter, events=events)))
    user = adapter.get_user_by_email("ada@example.com")
    assert user is not None
    signed = [kw for name, kw in seen if name == "sign_in"]
    assert [kw["is_new_user"] for kw in signed] == [True, False]
    assert {kw["user"]["id"] for kw in signed} == {user["id"]}
