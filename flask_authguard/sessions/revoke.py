"""Ending sessions server-side, for every layer: :class:`Revoker`.

``AuthGuard.revoke_user`` / ``revoke_token``, ``AuthEndpoints`` and ``POST /signout`` with
``everywhere=true`` all delegate to :class:`Revoker`. The per-request check every reader of a JWT
session asks before trusting a decoded token is the revocation defence's own
(:meth:`~flask_authguard.core.defences.revocation.RevocationList.live`).

- JWT sessions: revocation entries in the store (:mod:`flask_authguard.core.defences.revocation`),
  checked on every request with one store round trip, a verified-token cache hit included.
- Database sessions: the rows are deleted (the adapter's ``delete_session``, and
  ``delete_user_sessions(user_id)`` for a user), so the next lookup finds nothing.
"""

from __future__ import annotations

import logging
import typing as t

from ..core.defences.revocation import RevocationList
from ..core.errors import ConfigurationError, InvalidTokenError
from ..core.runtime import runtime_of
from ..core.settings.config import Config
from ..core.tokens.jwt import decrypt
from ..core.tokens.request_token import Claims, decode_candidates
from .adapter_calls import adapter_method, call_adapter, plausible_token

if t.TYPE_CHECKING:
    pass

logger = logging.getLogger("flask_authguard")


def revocations_of(config: Config) -> RevocationList:
    """The revocation list of ``config``'s runtime."""
    return runtime_of(config).revocations


class Revoker:
    """End sessions server-side for one set of resolved options.

    :param config: the resolved options; their ``store`` keeps JWT revocations.
    """

    def __init__(self, config: Config) -> None:
        #: The resolved options.
        self.config = config

    def revoke_user(self, user_id: t.Any) -> None:
        """End every session of ``user_id`` (a token's ``sub``) that started until now, JWT
        ones on every worker sharing the store; database sessions lose their rows.

        :raises ConfigurationError: a database adapter without ``delete_user_sessions``.
        :raises BackendUnavailableError: the store or the database cannot be reached.
        """
        if user_id is None or (isinstance(user_id, str) and not user_id):
            raise ValueError("revoke_user needs a user id (the token's 'sub')")
        user_id = str(user_id)
        if self.config.strategy == "database":
            adapter_method(self.config, "delete_user_sessions")  # ConfigurationError when absent
            call_adapter(self.config, "delete_user_sessions", user_id)
            return
        revocations_of(self.config).revoke_user(user_id)

    def revoke_token(self, token: str | t.Mapping[str, t.Any]) -> str:
        """End one session: ``token`` is the encoded session token (or, JWT, its claims).

        A JWT session is revoked by its ``sid``, so every later refresh of it is refused too; a
        token without one (issued by next-auth) by its ``jti``. An expired token still names its
        session, so it is accepted. A database session's row is deleted.

        :returns: what was revoked: ``"sid"``, ``"jti"`` or ``"session"`` (a database row).
        :raises InvalidTokenError: the token does not decrypt with the configured secrets.
        :raises ValueError: the claims have neither ``sid`` nor ``jti``.
        :raises BackendUnavailableError: the store or the database cannot be reached.
        """
        if self.config.strategy == "database":
            if not isinstance(token, str) or not plausible_token(token):
                raise ValueError("database sessions are revoked by their session token (the cookie value)")
            call_adapter(self.config, "delete_session", token)
            return "session"
        claims = token if isinstance(token, t.Mapping) else self.claims_of(token)
        return revocations_of(self.config).revoke_session(claims)

    def claims_of(self, token: str) -> Claims:
        """The claims of an encoded session token, expired or not, under either cookie name's
        salt (Auth.js v5 salts with it).

        :raises InvalidTokenError: it does not decrypt (or the decode hook refuses it).
        """
        config = self.config
        if not isinstance(token, str) or not token:
            raise InvalidTokenError("not a session token")
        secrets = config.current_secrets()
        if not secrets:
            raise ConfigurationError("no secret configured: cannot read the token to revoke")
        if config.jwt.decode is not None:
            claims = decode_candidates(
                [token], secrets=secrets, salt="", version=config.version, decode=config.jwt.decode
            )
            if claims is None:
                raise InvalidTokenError("the decode hook refused the token")
            return claims
        salts = {config.salt_for(config.session_cookie(secure).name) for secure in (False, True)}
        for salt in sorted(salts):
            try:
                return decrypt(token=token, secret=secrets, salt=salt, version=config.version)
            except InvalidTokenError:
                continue
        raise InvalidTokenError("the token does not decrypt with the configured secrets")
