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

__all__ = [
    "RESERVED_FIELDS",
    "CredentialsProvider",
    "Provider",
    "SignInError",
    "SignInResult",
    "User",
    "check_providers",
]
