"""The exception family of flask_authguard.

Every exception carries a short reason for logs and never the secret or the raw token.
"""

from __future__ import annotations


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
