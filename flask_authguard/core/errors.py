"""The exception family of flask_authguard.

Every exception carries a short reason for logs and never the secret or the raw token.
"""

from __future__ import annotations

import typing as t

__all__ = [
    "AccessTokenError",
    "AuthGuardError",
    "BackendUnavailableError",
    "ConfigurationError",
    "InvalidTokenError",
    "SignInError",
    "SignInRedirect",
    "TokenError",
    "TokenExpiredError",
]


class AuthGuardError(Exception):
    """Base class of every error raised by flask_authguard."""


class ConfigurationError(AuthGuardError):
    """An option or pattern is invalid; the message says what to set."""


class TokenError(AuthGuardError):
    """A session token could not be accepted.

    :param reason: why, in a few words; never the token itself.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        #: Why the token was refused.
        self.reason = reason


class InvalidTokenError(TokenError):
    """The token is malformed, tampered with, or made with another key."""


class TokenExpiredError(TokenError):
    """The token was valid once but its ``exp`` (plus tolerance) has passed."""


class BackendUnavailableError(AuthGuardError):
    """A session store (database) could not be reached; the request gets 503."""


class SignInError(AuthGuardError):
    """Raised by a provider (or an ``authorize`` function) to refuse a sign-in with a chosen
    next-auth error code, as a thrown ``Error`` does in next-auth.

    The code travels in the URL (``/api/auth/error?error=<code>``): keep it a short word
    without personal data. Codes the sign-in page knows (``CredentialsSignin``,
    ``AccessDenied``...) show its message; others show on ``pages.error``.

    :param code: the error code, default ``"CredentialsSignin"``.
    :param cookies: ``Set-Cookie`` values the error response still carries (an OAuth
        provider's check cookies being cleared).
    """

    def __init__(self, code: str = "CredentialsSignin", *, cookies: t.Sequence[str] = ()) -> None:
        super().__init__(code)
        #: The next-auth error code sent to the error route.
        self.code = code
        #: ``Set-Cookie`` values for the error response.
        self.cookies = list(cookies)


class SignInRedirect(AuthGuardError):
    """Raised by a provider when ``callbacks.sign_in`` answered a URL before the sign-in could
    start (an email link): nothing is sent, and the browser goes to that URL (through
    ``callbacks.redirect``), as next-auth redirects to a string the callback returns.

    :param url: where the callback sends the browser.
    """

    def __init__(self, url: str) -> None:
        super().__init__("redirected by callbacks.sign_in")
        #: Where the callback sends the browser (not yet checked by ``callbacks.redirect``).
        self.url = url


class AccessTokenError(AuthGuardError):
    """A provider's access token could not be refreshed: the identity provider refused the
    refresh token (``invalid_grant``), could not be reached, or there is no refresh token.

    Nobody is signed out: the session read carries ``"error": "RefreshAccessTokenError"`` until
    a refresh succeeds or the user signs in again, and the next call tries again.

    :param provider: the provider id.
    :param reason: ``"refused"``, ``"unavailable"`` or ``"no_refresh_token"``.
    :param error: the OAuth ``error`` code the provider answered (``"invalid_grant"``), if any.

    .. versionadded:: 0.1
    """

    def __init__(self, provider: str, reason: str, error: str | None = None) -> None:
        super().__init__(f"provider {provider!r}: the access token could not be refreshed ({reason})")
        #: The provider id.
        self.provider = provider
        #: ``"refused"``, ``"unavailable"`` or ``"no_refresh_token"``.
        self.reason = reason
        #: The OAuth ``error`` code of a refusal, else ``None``.
        self.error = error
