"""The one place that imports Authlib (and joserfc, its JOSE library): a clear start-up error
when the ``oauth`` extra is not installed. Its HTTP side, with the deadline and the size cap of
every request to an identity provider, is :mod:`._http`."""

from __future__ import annotations

import typing as t

from ..core.errors import ConfigurationError

INSTALL_HINT = "OAuth/OIDC providers need Authlib: pip install flask_authguard[oauth]"


def require_authlib() -> None:
    """Import Authlib's client side now, at start-up.

    :raises ConfigurationError: Authlib, joserfc or requests is not installed.
    """
    try:
        import authlib.integrations.requests_client  # noqa: F401
        import joserfc.jwt  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(f"{INSTALL_HINT} ({exc})") from None


def oauth_session(*, timeout: float, **kwargs: t.Any) -> t.Any:
    """Authlib's ``OAuth2Session(**kwargs)`` whose every request ends within ``timeout``
    seconds in total, its answer capped (:class:`._http.DeadlineSession`)."""
    from ._http import DeadlineSession

    return DeadlineSession(timeout=timeout, **kwargs)


def generate_token(length: int) -> str:
    """A random URL-safe string (Authlib's generator: state, PKCE verifier, nonce)."""
    from authlib.common.security import generate_token as generate

    return t.cast(str, generate(length))
