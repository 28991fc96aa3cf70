"""Provider presets (issue 13): GitHub against a loopback server speaking GitHub's API shape,
Google against the real OIDC test provider, the others' construction."""

from __future__ import annotations

import json
import threading
import typing as t
from urllib.parse import urlencode

import pytest
from conftest import SECRET
from support.handler_app import client_of, make_app
from support.oauth_flow import back, consent, cookie_of, query, sign_in, start
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from flask_authguard import (
    ConfigurationError,
    DiscordProvider,
    GitHubProvider,
    GitLabProvider,
    GoogleProvider,
    MicrosoftEntraIDProvider,
    decode,
)

if t.TYPE_CHECKING:
    from support.oidc_server import OIDCServer

BASE = "http://app.example.com"


class GitHubAPI:
    """github.com's OAuth endpoints and api.github.com's /user and /user/emails, on loopback."""

    def __init__(self) -> None:
        self.user: dict[str, t.Any] = {
            "id": 1234,
            "login": "octocat",
            "name": None,
            "email": None,
            "avatar_url": "https://avatars.example/u/1234",
        }
        self.emails: t.Any = [
            {"email": "old@example.com", "primary": False, "verified": True},
            {"email": "octo@example.com", "primary": True, "verified": True},
        ]
        self.codes: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @Request.application  # type: ignore[arg-type]
    def app(self, request: Request) -> Response:
        self.requests.append((request.path, request.headers.get("Authorization", "")))
        if request.path == "/login/oauth/authorize":
            code = f"code-{len(self.codes)}"
            self.codes[code] = request.args["client_id"]
            target = (
                request.args["redirect_uri"] + "?" + urlencode({"code": code, "state": request.args["state"]})
            )
            return Response(status=302, headers={"Location": target})
        if request.path == "/login/oauth/access_token":
            if self.codes.pop(request.form.get("code", ""), None) is None:
                body = {"error": "bad_verification_code"}
            else:
                body = {"access_token": "gho_test", "token_type": "bearer", "scope": "read:user,user:email"}
            # GitHub answers form-encoded unless JSON is asked for.
            if "application/json" in request.headers.get("Accept", ""):
                return Response(json.dumps(body), mimetype="application/json")
            return Response(urlencode(body), mimetype="application/x-www-form-urlencoded")
        if request.headers.get("Authorization") not in ("Bearer gho_test", "token gho_test"):
            return Response('{"message": "Requires authentication"}', status=401, mimetype="application/json")
        if request.path == "/user":
            return Response(json.dumps(self.user), mimetype="application/json")
        if request.path == "/user/emails":
            if self.emails is None:
                return Response('{"message": "Not Found"}', status=404, mimetype="application/json")
            return Response(json.dumps(self.emails), mimetype="application/json")
        return Response(status=404)

    def provider(self, **extra: t.Any) -> GitHubProvider:
        return GitHubProvider(
            client_id="gh-id",
            client_secret="gh-secret",
            authorization_url=f"{self.url}/login/oauth/authorize",
            token_url=f"{self.url}/login/oauth/access_token",
            userinfo_url=f"{self.url}/user",
            **extra,
        )


@pytest.fixture
def github() -> t.Iterator[GitHubAPI]:
    api = GitHubAPI()
    yield api
    api.server.shutdown()
    api.server.server_close()


def token_of(client: t.Any) -> dict[str, t.Any] | None:
    value = cookie_of(client, "next-auth.session-token")
    return None if value is None else decode(token=value, secret=SECRET)


def test_github_primary_email_lookup(github: GitHubAPI) -> None:
    client = client_of(make_app(providers=[github.provider()]))
    begun = start(client, "github")
    url = query(begun.headers["Location"])
    assert url["scope"] == "read:user user:email"
    assert url["redirect_uri"] == f"{BASE}/api/auth/callback/github"
    done = back(client, consent(begun.headers["Location"]))
    assert done.headers["Location"] == f"{BASE}/private"
    token = token_of(client)
    assert token is not None
    assert token["sub"] == "1234"
    assert token["name"] == "octocat"
    assert token["email"] == "octo@example.com"
    assert token["picture"] == "https://avatars.example/u/1234"
    assert [p for p, _ in github.requests][-2:] == ["/user", "/user/emails"]


def test_github_public_email_needs_no_lookup(github: GitHubAPI) -> None:
    github.user.update(email="public@example.com", name="The Octocat")
    client = client_of(make_app(providers=[github.provider()]))
    sign_in(client, "github")
    token = token_of(client)
    assert token is not None and token["email"] == "public@example.com" and token["name"] == "The Octocat"
    assert "/user/emails" not in [p for p, _ in github.requests]


def test_github_emails_unavailable(github: GitHubAPI) -> None:
    github.emails = None
    client = client_of(make_app(providers=[github.provider()]))
    assert sign_in(client, "github").headers["Location"] == f"{BASE}/private"
    token = token_of(client)
    assert token is not None and token["sub"] == "1234" and "email" not in token


@pytest.mark.parametrize("verified", [True, False])
def test_github_unverified_primary_email_is_never_linked(
    github: GitHubAPI, tmp_path: t.Any, verified: bool
) -> None:
    """Issue 27: the address of ``/user/emails`` carries GitHub's ``verified`` flag as
    ``email_verified``; an unverified one does not take over the user who owns it."""
    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    github.emails = [{"email": "octo@example.com", "primary": True, "verified": verified}]
    adapter = SQLAlchemyAdapter(f"sqlite:///{tmp_path / 'gh.db'}", create_tables=True)
    owner = adapter.create_user(
        {"name": "O", "email": "octo@example.com", "emailVerified": None, "image": None}
    )
    provider = github.provider(allow_dangerous_email_account_linking=True)
    location = sign_in(client_of(make_app(providers=[provider], adapter=adapter)), "github").headers[
        "Location"
    ]
    linked = adapter.get_user_by_account({"provider": "github", "providerAccountId": "1234"})
    if verified:
        assert location == f"{BASE}/private" and linked is not None and linked["id"] == owner["id"]
    else:
        assert query(location)["error"] == "OAuthAccountNotLinked" and linked is None


def test_github_code_refused(github: GitHubAPI) -> None:
    client = client_of(make_app(providers=[github.provider()]))
    begun = start(client, "github")
    redirect = consent(begun.headers["Location"])
    github.codes.clear()
    response = back(client, redirect)
    assert query(response.headers["Location"])["error"] == "OAuthCallback"


def test_github_defaults() -> None:
    provider = GitHubProvider(client_id="i", client_secret="s")
    assert (provider.id, provider.name, provider.type) == ("github", "GitHub", "oauth")
    assert provider.authorization_url == "https://github.com/login/oauth/authorize"
    assert provider.token_url == "https://github.com/login/oauth/access_token"
    assert provider.userinfo_url == "https://api.github.com/user"
    assert provider.checks == ("pkce", "state")  # issue 27: Auth.js's PKCE by default


def test_google_preset_against_a_real_issuer(idp: OIDCServer) -> None:
    idp.scenario(claims={"email": "g@example.com", "name": "G", "picture": "https://example.com/g.png"})
    provider = GoogleProvider(client_id="google-id", client_secret="google-secret", issuer=idp.issuer)
    client = client_of(make_app(providers=[provider]))
    assert sign_in(client, "google").headers["Location"] == f"{BASE}/private"
    token = token_of(client)
    assert token is not None and token["email"] == "g@example.com" and token["sub"] == "johndoe"


def test_google_defaults() -> None:
    provider = GoogleProvider(client_id="i", client_secret="s")
    assert (provider.id, provider.type, provider.issuer) == ("google", "oidc", "https://accounts.google.com")
    assert provider.scope == "openid email profile"
    assert provider.well_known == "https://accounts.google.com/.well-known/openid-configuration"


def test_other_presets() -> None:
    assert GitLabProvider(client_id="i", client_secret="s").userinfo_url == "https://gitlab.com/api/v4/user"
    discord = DiscordProvider(client_id="i", client_secret="s")
    assert discord.profile is not None
    assert discord.profile({"id": "80351110224678912", "username": "n", "avatar": "a_x"}, {})["image"] == (
        "https://cdn.discordapp.com/avatars/80351110224678912/a_x.gif"
    )
    entra = MicrosoftEntraIDProvider(client_id="i", client_secret="s", tenant_id="t-1")
    assert entra.issuer == "https://login.microsoftonline.com/t-1/v2.0"
    with pytest.raises(ConfigurationError, match="tenant_id"):
        MicrosoftEntraIDProvider(client_id="i", client_secret="s", tenant_id="common")


# -- client id and secret from the environment (next-auth v4's names, then Auth.js v5's) --------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({"GITHUB_ID": "v4-id", "GITHUB_SECRET": "v4-s"}, ("v4-id", "v4-s"), id="v4"),
        pytest.param({"AUTH_GITHUB_ID": "v5-id", "AUTH_GITHUB_SECRET": "v5-s"}, ("v5-id", "v5-s"), id="v5"),
        pytest.param(
            {
                "GITHUB_ID": "v4-id",
                "GITHUB_SECRET": "v4-s",
                "AUTH_GITHUB_ID": "v5-id",
                "AUTH_GITHUB_SECRET": "v5-s",
            },
            ("v4-id", "v4-s"),
            id="both-v4-first",
        ),
        pytest.param({"GITHUB_ID": "", "AUTH_GITHUB_ID": "v5-id"}, ("v5-id", None), id="empty-is-unset"),
    ],
)
def test_client_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: tuple[str, str | None]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    provider = GitHubProvider()
    assert (provider.client_id, provider.client_secret) == expected


def test_client_from_the_environment_by_provider_id(monkeypatch: pytest.MonkeyPatch) -> None:
    # Auth.js's AUTH_<ID>_ID: the id in upper case, "-" as "_"
    monkeypatch.setenv("AUTH_MICROSOFT_ENTRA_ID_ID", "entra-id")
    monkeypatch.setenv("AUTH_MICROSOFT_ENTRA_ID_SECRET", "entra-s")
    monkeypatch.setenv("GOOGLE_ID", "google-id")
    monkeypatch.setenv("AUTH_GOOGLE_SECRET", "google-s")
    entra = MicrosoftEntraIDProvider(tenant_id="t-1")
    google = GoogleProvider()
    assert (entra.client_id, entra.client_secret) == ("entra-id", "entra-s")
    assert (google.client_id, google.client_secret) == ("google-id", "google-s")


def test_given_client_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ID", "env-id")
    monkeypatch.setenv("GITHUB_SECRET", "env-s")
    provider = GitHubProvider(client_id="given-id", client_secret="given-s")
    assert (provider.client_id, provider.client_secret) == ("given-id", "given-s")
    public = GitHubProvider(client_id="given-id", token_endpoint_auth_method="none")
    assert public.client_secret is None  # a public client takes no secret from the environment


def test_missing_client_id_names_the_variables() -> None:
    with pytest.raises(ConfigurationError, match="GITHUB_ID or AUTH_GITHUB_ID"):
        GitHubProvider()


def test_repr_of_options_never_shows_a_provider_secret() -> None:
    """Issue 11's masked repr holds for the OAuth and email providers inside the options."""
    from flask_authguard import AuthOptions, EmailProvider, OIDCProvider
    from flask_authguard.core.settings.config import resolve_options

    providers = [
        GitHubProvider(client_id="gh-id", client_secret="gh-secret-1"),
        OIDCProvider(
            id="corp", name="Corp", issuer="https://id.example", client_id="c", client_secret="oidc-2"
        ),
        EmailProvider(server="smtp://u:smtp-pass-3@smtp.example:587", secret="email-secret-4"),
    ]
    options = AuthOptions(secret="app-secret-5", providers=providers)
    shown = repr(options) + repr(resolve_options(options)) + "".join(repr(p) for p in providers)
    assert "gh-id" in shown and "GitHubProvider(" in shown
    for secret in ("gh-secret-1", "oidc-2", "smtp-pass-3", "email-secret-4", "app-secret-5"):
        assert secret not in shown
