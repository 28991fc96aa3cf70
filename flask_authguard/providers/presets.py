"""Ready-made providers, each next-auth's preset of the same name: ``GitHubProvider``,
``GoogleProvider``, ``GitLabProvider``, ``DiscordProvider``, ``MicrosoftEntraIDProvider``.

Each takes ``client_id`` and ``client_secret`` (default from the environment: ``GITHUB_ID`` /
``GITHUB_SECRET``, else Auth.js v5's ``AUTH_GITHUB_ID`` / ``AUTH_GITHUB_SECRET``, and so on by
the provider id; see :func:`~.environment.client_from_env`) and any option of :class:`~.oauth.OAuthProvider`
or :class:`~.oidc.OIDCProvider` (``id``, ``scope``, ``allow_dangerous_email_account_linking``,
the URLs...). Keycloak, Okta, Auth0 and other OpenID Connect issuers need no preset:
``OIDCProvider(id="keycloak", name="Keycloak", issuer="https://kc.example.com/realms/acme", ...)``.

.. code-block:: python

    GitHubProvider(client_id=os.environ["GITHUB_ID"], client_secret=os.environ["GITHUB_SECRET"])
    GitHubProvider()  # the same from GITHUB_ID / GITHUB_SECRET, or AUTH_GITHUB_ID / AUTH_GITHUB_SECRET
"""

from __future__ import annotations

import dataclasses
import logging
import typing as t

from .oauth import OAuthProvider
from .oidc import OIDCProvider
from .replies import ExchangeFailed, get_json

logger = logging.getLogger("flask_authguard")


def github_profile(profile: t.Mapping[str, t.Any], tokens: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """next-auth's GitHub mapping: ``name`` falls back to ``login``, ``image`` is ``avatar_url``."""
    return {
        "id": str(profile["id"]),
        "name": profile.get("name") or profile.get("login"),
        "email": profile.get("email"),
        "image": profile.get("avatar_url"),
    }


@dataclasses.dataclass(eq=False, kw_only=True)
class GitHubProvider(OAuthProvider):
    """Sign in with GitHub (an OAuth App or GitHub App). Register the callback URL
    ``<your url>/api/auth/callback/github``.

    A profile without a public email gets the account's primary address from
    ``emails_url`` (``GET /user/emails``, needs the ``user:email`` scope), as next-auth does,
    with GitHub's ``verified`` flag as the profile's ``email_verified``: an unverified address
    is never linked to an existing user (``allow_dangerous_email_account_linking``).

    :param emails_url: default ``userinfo_url + "/emails"`` (``https://api.github.com/user/emails``).
    """

    id: str = "github"
    name: str = "GitHub"
    authorization_url: str | None = "https://github.com/login/oauth/authorize"
    token_url: str | None = "https://github.com/login/oauth/access_token"
    userinfo_url: str | None = "https://api.github.com/user"
    scope: str | None = "read:user user:email"
    profile: t.Callable[..., t.Any] | None = github_profile
    emails_url: str | None = None

    def read_profile(
        self, session: t.Any, tokens: t.Mapping[str, t.Any], checked: t.Mapping[str, str]
    ) -> t.Any:
        """``GET /user``, and ``GET /user/emails`` for the primary address when it has none."""
        profile = super().read_profile(session, tokens, checked)
        if isinstance(profile, dict) and not profile.get("email"):
            url = self.emails_url or f"{str(self.userinfo_url).rstrip('/')}/emails"
            try:
                emails = get_json(session, url, self.timeout)
            except ExchangeFailed as exc:
                logger.info("provider %s: no primary email: %s", self.id, exc)
                return profile
            if isinstance(emails, list):
                listed = [e for e in emails if isinstance(e, dict) and isinstance(e.get("email"), str)]
                primary = next((e for e in listed if e.get("primary")), listed[0] if listed else None)
                if primary is not None:
                    profile["email"] = primary["email"]
                    profile["email_verified"] = primary.get("verified") is True
        return profile


@dataclasses.dataclass(eq=False, kw_only=True)
class GoogleProvider(OIDCProvider):
    """Sign in with Google (OpenID Connect, ``https://accounts.google.com``). Register the
    redirect URI ``<your url>/api/auth/callback/google``."""

    id: str = "google"
    name: str = "Google"
    issuer: str = "https://accounts.google.com"


def gitlab_profile(profile: t.Mapping[str, t.Any], tokens: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """next-auth's GitLab mapping."""
    return {
        "id": str(profile["id"]),
        "name": profile.get("name") or profile.get("username"),
        "email": profile.get("email"),
        "image": profile.get("avatar_url"),
    }


@dataclasses.dataclass(eq=False, kw_only=True)
class GitLabProvider(OAuthProvider):
    """Sign in with GitLab (gitlab.com; point the URLs at a self-managed instance)."""

    id: str = "gitlab"
    name: str = "GitLab"
    authorization_url: str | None = "https://gitlab.com/oauth/authorize"
    token_url: str | None = "https://gitlab.com/oauth/token"
    userinfo_url: str | None = "https://gitlab.com/api/v4/user"
    scope: str | None = "read_user"
    profile: t.Callable[..., t.Any] | None = gitlab_profile


def discord_profile(profile: t.Mapping[str, t.Any], tokens: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """next-auth's Discord mapping: the avatar URL from the CDN, or the default avatar."""
    if profile.get("avatar"):
        extension = "gif" if str(profile["avatar"]).startswith("a_") else "png"
        image = f"https://cdn.discordapp.com/avatars/{profile['id']}/{profile['avatar']}.{extension}"
    else:
        index = (int(profile["id"]) >> 22) % 6 if str(profile.get("id", "")).isdigit() else 0
        image = f"https://cdn.discordapp.com/embed/avatars/{index}.png"
    return {
        "id": str(profile["id"]),
        "name": profile.get("global_name") or profile.get("username"),
        "email": profile.get("email"),
        "image": image,
    }


@dataclasses.dataclass(eq=False, kw_only=True)
class DiscordProvider(OAuthProvider):
    """Sign in with Discord."""

    id: str = "discord"
    name: str = "Discord"
    authorization_url: str | None = "https://discord.com/api/oauth2/authorize"
    token_url: str | None = "https://discord.com/api/oauth2/token"
    userinfo_url: str | None = "https://discord.com/api/users/@me"
    scope: str | None = "identify email"
    profile: t.Callable[..., t.Any] | None = discord_profile


@dataclasses.dataclass(eq=False, kw_only=True)
class MicrosoftEntraIDProvider(OIDCProvider):
    """Sign in with Microsoft Entra ID (Azure AD) for one tenant.

    :param tenant_id: the directory (tenant) id; the issuer is
        ``https://login.microsoftonline.com/<tenant_id>/v2.0``. Multi-tenant ``common`` is not
        supported: its tokens carry each user's own tenant as issuer.
    """

    id: str = "microsoft-entra-id"
    name: str = "Microsoft Entra ID"
    tenant_id: str = ""
    issuer: str = ""

    def __post_init__(self) -> None:
        if not self.issuer:
            from ..core.errors import ConfigurationError

            if not self.tenant_id or self.tenant_id in ("common", "organizations", "consumers"):
                raise ConfigurationError(
                    "MicrosoftEntraIDProvider needs tenant_id=<your directory id> (or issuer=...)"
                )
            self.issuer = f"https://login.microsoftonline.com/{self.tenant_id}/v2.0"
        super().__post_init__()
