"""The refresh grant: a new access token from the identity provider's token endpoint.

``OAuthProvider(refresh=True)`` (and every OIDC provider and preset) keeps the tokens of a
sign-in; :mod:`flask_authguard.sessions.refresh` decides when they are due and makes sure one
refresh token is sent once. This module only talks to the provider: Authlib's client posts
``grant_type=refresh_token`` with the client's credentials (the provider's
``token_endpoint_auth_method``), within the provider's ``timeout``.

A refresh answer may carry a new ``id_token``. OpenID Connect Core 12.2 says it has no ``nonce``
(Keycloak, Okta send none): it is verified as at sign-in (signature, ``iss``, ``aud``, ``exp``)
without the nonce check. One that fails is left out and logged; the access token is kept (the
session's identity never comes from a refresh).
"""

from __future__ import annotations

import logging
import typing as t

from ..core.errors import AccessTokenError
from ..core.tokens.claims import kept_expiry
from . import _authlib

logger = logging.getLogger("flask_authguard")


def refresh_grant(provider: t.Any, refresh_token: str) -> dict[str, t.Any]:
    """Exchange ``refresh_token`` at the token endpoint of ``provider`` (an
    :class:`~.oauth.OAuthProvider`).

    :returns: ``access_token``, ``refresh_token`` (the new one, or the one sent when the
        provider rotates none), ``expires_at`` (an integer within bounds, when the provider said
        ``expires_in`` or ``expires_at``: :func:`~flask_authguard.core.tokens.claims.kept_expiry`),
        and a verified ``id_token`` when the provider sent one.
    :raises AccessTokenError: ``"refused"`` (the provider answered an OAuth error such as
        ``invalid_grant``, or a 4xx), ``"unavailable"`` (unreachable, timed out, a 5xx, or an
        answer without an access token).
    """
    try:
        endpoint = provider.endpoints()["token_endpoint"]
    except Exception as exc:
        logger.warning("provider %s: no token endpoint for the refresh: %s", provider.id, type(exc).__name__)
        raise AccessTokenError(provider.id, "unavailable") from None
    session = _authlib.oauth_session(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        token_endpoint_auth_method=provider.token_endpoint_auth_method,
        timeout=provider.timeout,
    )
    session.register_compliance_hook("refresh_token_response", _refusal_without_error_code)
    session.register_compliance_hook("refresh_token_response", _answer_authlib_cannot_read)
    try:
        answer = dict(session.refresh_token(endpoint, refresh_token=refresh_token))
    except _TokenAnswer as read_here:  # the provider granted it: its new tokens are kept
        answer = read_here.body
    except Exception as exc:
        raise _failure(provider.id, exc) from None
    access_token = answer.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        logger.warning("provider %s: the refresh answer has no access_token", provider.id)
        raise AccessTokenError(provider.id, "unavailable")
    new_refresh = answer.get("refresh_token")
    tokens: dict[str, t.Any] = {
        "access_token": access_token,
        "refresh_token": new_refresh if isinstance(new_refresh, str) and new_refresh else refresh_token,
    }
    expires_at = kept_expiry(expires_in=answer.get("expires_in"), expires_at=answer.get("expires_at"))
    if expires_at is not None:
        tokens["expires_at"] = expires_at
    id_token = answer.get("id_token")
    if isinstance(id_token, str) and id_token:
        verify = getattr(provider, "verify_id_token", None)
        if verify is None:
            tokens["id_token"] = id_token
        else:
            try:
                verify(id_token, None)  # no nonce in a refresh answer (OpenID Connect Core 12.2)
            except Exception as exc:
                logger.warning("provider %s: the refreshed id_token was left out: %s", provider.id, exc)
            else:
                tokens["id_token"] = id_token
    return tokens


def _refusal_without_error_code(response: t.Any) -> t.Any:
    """A 4xx answer without an OAuth ``error`` (a gateway's 401 page) is a refusal too: raised
    with its status (Authlib would read such a JSON body as a token answer)."""
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not (isinstance(body, dict) and body.get("error")):
            response.raise_for_status()
    return response


class _TokenAnswer(Exception):
    """A granted token answer Authlib would fail to read, carried out of its compliance hook."""

    def __init__(self, body: dict[str, t.Any]) -> None:
        super().__init__("a token answer read here")
        self.body = body


def _answer_authlib_cannot_read(response: t.Any) -> t.Any:
    """A granted answer (an ``access_token``) whose ``expires_in`` or ``expires_at`` Authlib's
    ``int()`` cannot convert (``"3600.0"``, ``NaN``, ``1e400``) is read here instead: Authlib
    would raise, and the provider's new access token and rotated refresh token would be lost,
    the old refresh token sent again (a rotating provider may then revoke them all). Its expiry
    is then read as any other (:func:`~flask_authguard.core.tokens.claims.kept_expiry`)."""
    if response.status_code >= 400:
        return response
    try:
        body = response.json()
    except ValueError:
        return response  # not JSON: Authlib's own failure
    if not isinstance(body, dict) or not body.get("access_token"):
        return response
    for name in ("expires_in", "expires_at"):
        value = body.get(name)
        if value is None:
            continue
        try:
            int(value)
        except (TypeError, ValueError, OverflowError):
            raise _TokenAnswer(body) from None
    return response


def _failure(provider_id: str, exc: Exception) -> AccessTokenError:
    """The :class:`AccessTokenError` of a failed refresh request (logged without any token)."""
    error = getattr(exc, "error", None)
    if isinstance(error, str) and error:  # the provider's OAuth error answer
        logger.warning("provider %s refused the refresh: %.64r", provider_id, error)
        return AccessTokenError(provider_id, "refused", error)
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, int) and 400 <= status < 500:
        logger.warning("provider %s refused the refresh with HTTP %d", provider_id, status)
        return AccessTokenError(provider_id, "refused")
    logger.warning("provider %s: the refresh failed: %s", provider_id, type(exc).__name__)
    return AccessTokenError(provider_id, "unavailable")
