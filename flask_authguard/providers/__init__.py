"""Sign-in providers for the built-in endpoints: one module a provider."""

from __future__ import annotations

from .base import (
    RESERVED_FIELDS,
    CredentialsProvider,
    Provider,
    SignInError,
    SignInResult,
    User,
    check_providers,
)
from .email import EmailProvider
from .oauth import OAuthProvider
from .oidc import OIDCProvider
from .passkey import PasskeyProvider
from .presets import DiscordProvider, GitHubProvider, GitLabProvider, GoogleProvider, MicrosoftEntraIDProvider

__all__ = [
    "RESERVED_FIELDS",
    "CredentialsProvider",
    "DiscordProvider",
    "EmailProvider",
    "GitHubProvider",
    "GitLabProvider",
    "GoogleProvider",
    "MicrosoftEntraIDProvider",
    "OAuthProvider",
    "OIDCProvider",
    "PasskeyProvider",
    "Provider",
    "SignInError",
    "SignInResult",
    "User",
    "check_providers",
]
