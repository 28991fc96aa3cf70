"""Sign-in providers for the built-in endpoints.

A provider turns a sign-in request into a user. :class:`CredentialsProvider` checks submitted
fields with your ``authorize`` function:

.. code-block:: python

    from werkzeug.security import check_password_hash
    from flask_authguard import AuthGuard, CredentialsProvider

    def authorize(*, credentials, request, **kwargs):
        user = USERS.get(credentials["username"])
        if user and check_password_hash(user["password_hash"], credentials["password"]):
            return {"id": user["id"], "name": user["name"], "email": user["email"]}
        return None

    AuthGuard(app, {
        "secret": "...",
        "providers": [CredentialsProvider(
            authorize=authorize,
            credentials={"username": {"label": "Username"},
                         "password": {"label": "Password", "type": "password"}},
        )],
    })

The routes rely on the :class:`Provider` protocol only, so an OAuth/OIDC provider can be added
without touching them: its ``begin_sign_in`` answers ``POST /signin/<id>`` with a redirect to the
identity provider (setting its own state/PKCE cookies on that response), its
``callback_methods`` include ``GET``, ``callback_csrf`` is ``False`` (the state check replaces
the CSRF token on the way back) and ``handle_callback`` turns the identity provider's answer into
a :class:`SignInResult` (its ``cookies`` clear the check cookies).

An optional method extends the protocol (OAuth, OIDC and email providers have it):
``bind(config)`` is called once at start-up with the resolved options (secret, cookie naming,
base path, adapter). Providers never store users or accounts: once ``callbacks.sign_in``
allowed a sign-in, the endpoints hand the result's ``user`` and ``account`` to the session
strategy, which finds or creates the adapter's user (:mod:`flask_authguard.sessions.accounts`).
"""

from __future__ import annotations

import dataclasses
import typing as t
from urllib.parse import urlsplit

from ..core._compat import call_sync
from ..core.errors import ConfigurationError
from ..core.errors import SignInError as SignInError  # re-exported: raised by providers

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Request, Response

    from ..core.settings.config import Config

User = dict[str, t.Any]

#: Form fields the sign-in form carries for the endpoints, never for ``authorize``.
RESERVED_FIELDS = frozenset({"csrfToken", "callbackUrl", "json", "redirect"})


@dataclasses.dataclass
class SignInResult:
    """What a provider's callback produced: the user and next-auth's ``account``/``profile``."""

    #: The user: ``id`` becomes the token's ``sub``; ``name``, ``email``, ``image`` are copied.
    user: User
    #: next-auth's ``account``: ``provider``, ``type``, ``providerAccountId`` (and OAuth tokens).
    account: dict[str, t.Any]
    #: The identity provider's profile (OAuth), else ``None``.
    profile: dict[str, t.Any] | None = None
    #: Whether the user was just created (database adapters); ``False`` for credentials.
    is_new_user: bool = False
    #: ``Set-Cookie`` values for the response (an OAuth provider clears its check cookies).
    cookies: list[str] = dataclasses.field(default_factory=list)
    #: When the identity provider last authenticated the user (an OpenID Connect ID token's
    #: ``auth_time``, at most now; the epoch when it gave none: :func:`~.step_up.authenticated_at`),
    #: which a view with ``max_age`` measures the session by; ``None``: this sign-in authenticated
    #: the user itself, now (credentials, email, passkey, plain OAuth).
    authenticated_at: float | None = None


class Provider(t.Protocol):
    """What the auth routes need from a provider."""

    #: The id in URLs: ``/api/auth/signin/<id>``, ``/api/auth/callback/<id>``.
    id: str
    #: Shown on the sign-in page and in ``/api/auth/providers``.
    name: str
    #: next-auth's provider type: ``"credentials"``, ``"oauth"``, ``"oidc"``, ``"email"``.
    type: str
    #: The methods ``/callback/<id>`` accepts; others answer next-auth's 400.
    callback_methods: t.Collection[str]
    #: Whether ``/callback/<id>`` needs the CSRF token (a form post does; an OAuth redirect
    #: back from the identity provider cannot carry it and checks its ``state`` instead).
    callback_csrf: bool

    def begin_sign_in(self, request: Request, *, callback_url: str, redirect_uri: str) -> Response | None:
        """Answer ``POST /signin/<id>`` (CSRF already checked): a response (an OAuth provider's
        redirect to the identity provider), or ``None`` to show the sign-in page.

        :param callback_url: where the user goes after signing in (already checked).
        :param redirect_uri: this provider's ``/callback/<id>`` URL.
        """
        ...

    def handle_callback(self, request: Request, form: t.Mapping[str, t.Any]) -> SignInResult | None:
        """Authenticate a callback request: the result, or ``None`` when sign-in failed.

        :raises SignInError: to refuse with a specific error code.
        """
        ...


@dataclasses.dataclass
class CredentialsProvider:
    """Sign in with submitted fields (username and password, a one-time code...).

    :param authorize: ``authorize(credentials=..., request=...)`` returns a user dict (with an
        ``id``; ``name``, ``email``, ``image`` are copied into the token) or ``None``. It may
        be ``async def``; raising :class:`SignInError` picks the error code. Use a
        constant-time password check (``werkzeug.security.check_password_hash``).
    :param credentials: the form fields and how the sign-in page shows them:
        ``{"username": {"label": "Username", "type": "text", "placeholder": "jsmith"}}``. Only
        these fields reach ``authorize``; with none declared, every submitted field but the
        endpoints' own (``csrfToken``, ``callbackUrl``, ``json``) does.
    :param id: the provider id in URLs (``/api/auth/callback/<id>``).
    :param name: shown on the sign-in page.
    :param allow_dangerous_email_account_linking: no effect, kept so that code passing it
        runs: with database sessions ``authorize`` is the app's own authority, and the user it
        returns signs in as the adapter's user with that ``id``, else with that ``email``
        (:mod:`~flask_authguard.sessions.accounts`); the linking rule is for OAuth/OIDC.
    """

    authorize: t.Callable[..., t.Any]
    credentials: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    id: str = "credentials"
    name: str = "Credentials"
    allow_dangerous_email_account_linking: bool = False
    type: str = dataclasses.field(default="credentials", init=False)
    #: The sign-in form posts to ``/callback/<id>``, with the CSRF token.
    callback_methods: tuple[str, ...] = dataclasses.field(default=("POST",), init=False)
    callback_csrf: bool = dataclasses.field(default=True, init=False)

    def __post_init__(self) -> None:
        if not callable(self.authorize):
            raise ConfigurationError("CredentialsProvider(authorize=...) must be callable")
        check_provider_id(self.id)
        if not isinstance(self.credentials, t.Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, t.Mapping) for k, v in self.credentials.items()
        ):
            raise ConfigurationError(
                "CredentialsProvider(credentials=...) must map field names to dicts, "
                "e.g. {'username': {'label': 'Username'}}"
            )
        clash = RESERVED_FIELDS.intersection(self.credentials)
        if clash:
            raise ConfigurationError(f"credential field names {sorted(clash)} are used by the endpoints")

    def begin_sign_in(self, request: Request, *, callback_url: str, redirect_uri: str) -> Response | None:
        """Credentials have no first step: ``POST /signin/<id>`` shows the sign-in page, as in
        next-auth (the form posts to ``/callback/<id>``)."""
        return None

    def handle_callback(self, request: Request, form: t.Mapping[str, t.Any]) -> SignInResult | None:
        """Run ``authorize`` with the submitted fields (strings; a missing one is ``""``)."""
        submitted = submitted_credentials(self.credentials, form)
        user = call_sync(self.authorize, credentials=submitted, request=request)
        if not user:
            return None
        if not isinstance(user, t.Mapping):
            raise TypeError(f"authorize must return a dict (the user) or None, not {type(user).__name__}")
        user = dict(user)
        account = {"providerAccountId": str(user.get("id", "")), "type": "credentials", "provider": self.id}
        return SignInResult(user=user, account=account)


def submitted_credentials(declared: t.Mapping[str, t.Any], form: t.Mapping[str, t.Any]) -> dict[str, str]:
    """What ``authorize`` receives as ``credentials``: the ``declared`` fields, or with none
    declared every submitted field but the endpoints' own; values as strings (a missing one is
    ``""``). Sign-in throttling counts attempts from the same dict."""
    if declared:
        return {key: _text(form.get(key)) for key in declared}
    return {key: _text(form.get(key)) for key in form if key not in RESERVED_FIELDS}


def _text(value: t.Any) -> str:
    """A submitted field as a string: JSON bodies may send numbers, lists or nothing."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def check_provider_id(provider_id: t.Any) -> None:
    """A provider id must be a non-empty URL segment.

    :raises ConfigurationError: it is not.
    """
    if (
        not isinstance(provider_id, str)
        or not provider_id
        or any(c in provider_id for c in "/\\?#%")
        or not provider_id.isprintable()
        or provider_id.strip() != provider_id
    ):
        raise ConfigurationError(f"a provider id must be a non-empty URL segment, not {provider_id!r}")


def check_providers(providers: t.Iterable[t.Any], config: Config | None = None) -> dict[str, Provider]:
    """The providers by id, checked once at start-up.

    A provider with a ``bind(config)`` method (OAuth, OIDC, email) is handed the resolved
    options here: the secret, the cookie rules, the base path, the adapter.

    :raises ConfigurationError: a provider misses part of the :class:`Provider` protocol, or
        two share an id.
    """
    out: dict[str, Provider] = {}
    for provider in providers:
        missing = [
            name
            for name in (
                "id",
                "name",
                "type",
                "callback_methods",
                "callback_csrf",
                "begin_sign_in",
                "handle_callback",
            )
            if not hasattr(provider, name)
        ]
        if missing:
            raise ConfigurationError(
                f"provider {provider!r} lacks {', '.join(missing)} (see flask_authguard.Provider)"
            )
        check_provider_id(provider.id)
        if provider.id in out:
            raise ConfigurationError(f"two providers share the id {provider.id!r}: give one another id=...")
        out[provider.id] = t.cast(Provider, provider)
    if config is not None:
        for provider in out.values():
            bind = getattr(provider, "bind", None)
            if callable(bind):
                bind(config)
    return out


def adapter_with(config: Config, provider: str, needs: str, methods: t.Iterable[str]) -> None:
    """Start-up: ``config`` has an adapter with every one of ``methods`` (``needs``: what the
    provider keeps there, for the message).

    :raises ConfigurationError: no adapter, or one that lacks a method.
    """
    adapter = config.options.adapter
    if adapter is None:
        raise ConfigurationError(f"{provider} needs adapter=... (e.g. SQLAlchemyAdapter) for its {needs}")
    missing = [m for m in methods if not callable(getattr(adapter, m, None))]
    if missing:
        raise ConfigurationError(f"{provider}: the adapter lacks {', '.join(missing)}")


def check_url(provider_id: str, name: str, value: t.Any, *, required: bool) -> None:
    """Start-up check of a provider URL option: an absolute http(s) URL (or ``None`` when not
    ``required``).

    :raises ConfigurationError: naming the provider and the option.
    """
    if value is None and not required:
        return
    if (
        not isinstance(value, str)
        or urlsplit(value).scheme not in ("http", "https")
        or not urlsplit(value).netloc
    ):
        raise ConfigurationError(
            f"provider {provider_id!r}: {name}=... must be an http(s) URL, not {value!r}"
        )
