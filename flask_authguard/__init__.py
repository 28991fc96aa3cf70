"""flask_authguard: NextAuth.js-style sessions for Flask and any WSGI app.

.. code-block:: python

    from flask import Flask
    from flask_authguard import AuthGuard

    app = Flask(__name__)
    guard = AuthGuard(app, {"secret": "change-me"})
"""

from __future__ import annotations

from .core.errors import (
    AccessTokenError,
    AuthGuardError,
    BackendUnavailableError,
    ConfigurationError,
    InvalidTokenError,
    TokenError,
    TokenExpiredError,
)
from .core.settings.defence_options import ThrottleOptions
from .core.settings.options import (
    AuthOptions,
    Callbacks,
    CookieOption,
    CookiesOptions,
    Events,
    JWTOptions,
    Pages,
    SessionOptions,
)
from .core.tokens.jwt import decode, encode
from .core.tokens.request_token import get_token
from .core.two_factor import TwoFactorOptions
from .flask.access_token import get_access_token
from .flask.ext import AuthGuard
from .flask.protection import auth_required
from .flask.session import get_server_session, update_session
from .providers.base import CredentialsProvider, Provider, SignInError, SignInResult
from .providers.email import EmailProvider
from .providers.oauth import OAuthProvider
from .providers.oidc import OIDCProvider
from .providers.passkey import PasskeyProvider
from .providers.presets import (
    DiscordProvider,
    GitHubProvider,
    GitLabProvider,
    GoogleProvider,
    MicrosoftEntraIDProvider,
)
from .wsgi.endpoints import AuthEndpoints
from .wsgi.middleware import TOKEN_ENVIRON_KEY, AuthCore, with_auth

__version__ = "0.1.0"

__all__ = [
    "AuthCore",
    "AuthEndpoints",
    "AuthGuard",
    "auth_required",
    "get_access_token",
    "get_server_session",
    "update_session",
    "with_auth",
    "AccessTokenError",
    "AuthGuardError",
    "AuthOptions",
    "BackendUnavailableError",
    "Callbacks",
    "ConfigurationError",
    "CookieOption",
    "CredentialsProvider",
    "CookiesOptions",
    "DiscordProvider",
    "EmailProvider",
    "Events",
    "GitHubProvider",
    "GitLabProvider",
    "GoogleProvider",
    "MicrosoftEntraIDProvider",
    "InvalidTokenError",
    "JWTOptions",
    "OAuthProvider",
    "OIDCProvider",
    "Pages",
    "PasskeyProvider",
    "Provider",
    "SessionOptions",
    "SignInError",
    "SignInResult",
    "ThrottleOptions",
    "TOKEN_ENVIRON_KEY",
    "TokenError",
    "TokenExpiredError",
    "TwoFactorOptions",
    "decode",
    "encode",
    "get_token",
]
