"""Sign-in providers for the built-in endpoints.

A provider turns a sign-in request into a user. :class:`CredentialsProvider` checks submitted
fields with your ``authorize`` function. The :class:`Provider` protocol is what the routes rely
on, so an OAuth/OIDC provider can be added without touching them: it would answer
``begin_sign_in`` with a redirect to the identity provider and ``handle_callback`` with the user.
"""

from __future__ import annotations

import dataclasses
import typing as t

from werkzeug.wrappers import Request

from ._compat import call_sync
from .errors import ConfigurationError

User = t.Dict[str, t.Any]


@dataclasses.dataclass
class SignInResult:
    """What a provider's callback produced: the user and next-auth's ``account``/``profile``."""

    user: User
    account: dict[str, t.Any]
    profile: dict[str, t.Any] | None = None
    is_new_user: bool = False


class Provider(t.Protocol):
    """What the auth routes need from a provider."""

    id: str
    name: str
    type: str

    def handle_callback(self, request: Request, form: t.Mapping[str, str]) -> SignInResult | None:
        """Authenticate a callback request: the result, or ``None`` when sign-in failed."""
        ...


@dataclasses.dataclass
class CredentialsProvider:
    """Sign in with submitted fields (username and password, a code...).

    :param authorize: ``authorize(credentials=..., request=...)`` returns a user dict (with an
        ``id``; ``name``, ``email``, ``image`` are copied into the token) or ``None``.
    :param credentials: the form fields: ``{"username": {"label": "Username", "type": "text"}}``.
    :param id: the provider id in URLs (``/api/auth/callback/<id>``).
    :param name: shown on the sign-in page.
    """

    authorize: t.Callable[..., t.Any]
    credentials: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    id: str = "credentials"
    name: str = "Credentials"
    type: str = "credentials"

    def __post_init__(self) -> None:
        if not callable(self.authorize):
            raise ConfigurationError("CredentialsProvider(authorize=...) must be callable")
        if not self.id or "/" in self.id:
            raise ConfigurationError(f"provider id must be a non-empty name without '/', not {self.id!r}")

    def handle_callback(self, request: Request, form: t.Mapping[str, str]) -> SignInResult | None:
        """Run ``authorize`` with the declared fields only."""
        submitted = {key: form.get(key, "") for key in self.credentials} if self.credentials else dict(form)
        submitted.pop("csrfToken", None)
        user = call_sync(self.authorize, credentials=submitted, request=request)
        if not user:
            return None
        user = dict(user)
        account = {"providerAccountId": str(user.get("id", "")), "type": "credentials", "provider": self.id}
        return SignInResult(user=user, account=account)
