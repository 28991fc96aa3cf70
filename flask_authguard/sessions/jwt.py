"""The JWT session strategy: the session is the encrypted token in the cookie.

Reading (next-auth's session route, spec section 5.1): decode the cookie,
``callbacks.jwt(token=..., ...)``, ``callbacks.session(session=..., token=...)``, re-encode with a
fresh expiry (``session.max_age``) and set the (chunked) cookie again, a rolling session. An
invalid or expired token clears the session cookies.

Where this deliberately differs from next-auth:

- a ``jwt`` callback returning ``None`` signs the user out (Auth.js v5's rule): no session and
  the cookies are cleared (next-auth v4 returns the session and clears the cookie);
- a session callback returning anything but a non-empty ``dict`` gives no session (the
  refreshed cookie is still set, as next-auth does for ``{}``);
- a failure to re-encode keeps the cookie the user has instead of clearing it;
- a sign-in whose token would take more than :data:`MAX_SIGN_IN_CHUNKS` cookies is refused
  (next-auth sets as many chunks as it takes).
"""

from __future__ import annotations

import logging
import typing as t

from ..core import _clock
from ..core._compat import call_sync, settle
from ..core.defences.revocation import carry_sign_in_claims, lifetime_left, sign_in_claims
from ..core.errors import SignInError, TokenError
from ..core.http.cookies import chunk, clean
from ..core.http.dates import iso_ms
from ..core.runtime import runtime_of
from ..core.settings.config import Config
from ..core.tokens.jwt import verified_claims
from ..core.tokens.request_token import (
    TOKEN_CONFIG_KEY,
    TOKEN_ENVIRON_KEY,
    Claims,
    decode_candidates,
    session_cookie_values,
    session_cookies,
    single_cookie_value,
    token_for,
)
from .accounts import resolve_user
from .base import (
    NOT_UPDATE,
    SessionResult,
    call_jwt_callback,
    cookie_spec,
    default_session,
    encode_token,
    fire_event,
)
from .devices import JwtDevices
from .provider_tokens import REFRESH_ERROR, with_sign_in_tokens

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

logger = logging.getLogger("flask_authguard")

#: The account types next-auth stores through the adapter with JWT sessions too.
_STORED_TYPES = frozenset({"oauth", "oidc", "email"})
#: Claims a sign-in copies from the provider's user: ``(claim, user field)``.
_USER_CLAIMS = (("name", "name"), ("email", "email"), ("picture", "image"), ("sub", "id"))
#: The most cookies a session token issued at sign-in may take (about 15.7 KB): Node.js, which
#: serves next-auth, refuses request headers over 16 KiB by default, and most proxies and WSGI
#: servers allow less. A larger token (a profile copied whole by ``callbacks.jwt``, a provider
#: answering a huge name) is a sign-in error, not a dozen cookies that lock the user out.
MAX_SIGN_IN_CHUNKS = 4
#: The error code of a sign-in refused for that, by account type (next-auth's codes).
_TOO_LARGE = {"oauth": "OAuthCallback", "oidc": "OAuthCallback"}


class JwtSessions:
    """Sessions held in the encrypted session cookie (``session.strategy = "jwt"``).

    :param config: the resolved options.
    """

    #: Whether a read may block on I/O: with the memory store, no (reading is CPU work only);
    #: with a Redis ``store`` yes (every read asks it about revocations); the ASGI layer reads
    #: in a worker thread when it may.
    blocking = False

    def __init__(self, config: Config) -> None:
        #: The resolved options.
        self.config = config
        self.blocking = not config.store.startswith("memory://")  # defence: the store's round trip
        #: The options' runtime (its revocation list is asked on every read).
        self._runtime = runtime_of(config)
        #: The users' sessions: recorded at sign-in, listed and ended one by one.
        self.devices = JwtDevices(config)
        # a decode hook, or secrets the environment gives per request: the guard reads the
        # general way (:meth:`token`)
        self._general_read = config.jwt.decode is not None or not config.secrets

    def token(self, environ: WSGIEnvironment) -> Claims | None:
        """The guard's read: the decoded session cookie or Bearer token, as ``withAuth``'s
        ``getToken`` reads it; ``None`` when revoked or past ``session.max_lifetime``.

        The usual request holds the session cookie once, plainly spelt
        (:func:`~flask_authguard.core.tokens.request_token.single_cookie_value`): its claims come
        from the verified-token cache, else are decrypted and checked now. Anything else (chunks,
        a Bearer header, a ``jwt.decode`` hook, secrets from the environment) is read the
        general way (:func:`~flask_authguard.core.tokens.request_token.token_for`).

        :raises BackendUnavailableError: the store (revocations) cannot be reached.
        """
        config = self.config
        secure = config.secure
        if secure is None:
            secure = environ.get("wsgi.url_scheme") == "https"
        value = single_cookie_value(environ.get("HTTP_COOKIE"), config.session_cookies[secure].name)
        if value is None or self._general_read:
            claims: Claims | None = token_for(environ, config)  # type: ignore[assignment]  # (not raw)
        else:
            try:
                claims = verified_claims(value, config.secrets, config.session_salts[secure], config.version)
            except TokenError as exc:
                logger.debug("session token refused: %s", exc.reason)
                return None
        if claims is not None:  # defence: lifetime, revocation (the store opens only for a token)
            claims = self._runtime.revocations.live(environ, claims)
        if claims is not None:
            self.devices.seen(environ, claims)
        return claims

    def _decode_cookie(
        self, environ: WSGIEnvironment, candidates: t.Sequence[str], secrets: tuple[str, ...], salt: str
    ) -> Claims | None:
        """The claims of the session cookie's candidate values: the guard's decode of this very
        request when it used the same options, else decoded now (never twice per request)."""
        config = self.config
        if environ.get(TOKEN_CONFIG_KEY) is config:
            return t.cast("Claims | None", environ.get(TOKEN_ENVIRON_KEY))
        return decode_candidates(
            candidates, secrets=secrets, salt=salt, version=config.version, decode=config.jwt.decode
        )

    def read(self, environ: WSGIEnvironment, update: t.Any = NOT_UPDATE) -> SessionResult:
        """The session from the cookie (never a Bearer header), with the cookie rolled."""
        config = self.config
        spec = cookie_spec(environ, config)
        cookies, candidates = session_cookie_values(environ, spec.name)
        if not candidates:
            return SessionResult(None, [], None)
        secrets = config.current_secrets()
        salt = config.salt_for(spec.name)
        decoded = self._decode_cookie(environ, candidates, secrets, salt)
        # defence: revocation, absolute lifetime
        if decoded is not None:
            decoded = self._runtime.revocations.live(environ, decoded)
        if decoded is None:
            logger.debug("session cookie invalid, expired or revoked: clearing it")
            return SessionResult(None, clean(spec, existing=cookies), None)
        self.devices.seen(environ, decoded)
        # defence: an absolute lifetime caps the refreshed token and cookie
        max_age = config.session_max_age
        left = lifetime_left(decoded, config)
        if left is not None:
            max_age = max(1, min(max_age, int(left)))
        # one moment for the session's ``expires`` and the cookie's ``Expires``
        expires = _clock.now() + max_age
        try:
            if update is NOT_UPDATE:
                token = call_jwt_callback(config, dict(decoded))
            else:
                token = call_jwt_callback(config, dict(decoded), trigger="update", session=update)
            if token is None:  # Auth.js v5's rule: a jwt callback returning None signs out
                logger.debug("callbacks.jwt returned None: signing out")
                return SessionResult(None, clean(spec, existing=cookies), None)
            token = carry_sign_in_claims(decoded, token)  # defence: sign-in time and sid stay
            # v4 builds the default session from the token as decoded; v5 from the callback's result.
            profile = decoded if config.version == 4 else token
            session: t.Any = default_session(profile, iso_ms(expires))
            session_callback = config.callbacks.session
            if session_callback is not None and update is NOT_UPDATE:
                # called directly: call_sync's **kwargs copies them twice
                session = settle(session_callback(session=session, token=token, user=None))
            elif session_callback is not None:
                session = call_sync(
                    session_callback,
                    session=session,
                    token=token,
                    user=None,
                    trigger="update",
                    new_session=update,
                )
        except Exception:
            logger.exception("a session callback raised: no session for this request")
            return SessionResult(None, clean(spec, existing=cookies), None)
        if not isinstance(session, dict) or not session:
            if session is not None and not isinstance(session, dict):
                logger.debug("callbacks.session returned a %s: no session", type(session).__name__)
            session = None
        elif token.get("error") == REFRESH_ERROR:  # a provider token refresh failed (.refresh)
            session["error"] = REFRESH_ERROR

        try:
            new_token = encode_token(config, token, max_age, salt)
        except Exception:
            # Keep the cookie the user has: a failed refresh must not sign anyone out.
            logger.exception("re-encoding the session token failed; the cookie is left as it was")
            set_cookies: list[str] = []
        else:
            size = config.chunk_size
            set_cookies = chunk(spec, new_token, existing=cookies, chunk_size=size, expires=expires)
        if config.events.session is not None:
            fire_event(config, "session", session=session, token=token)
        return SessionResult(session, set_cookies, token)

    def account_user(
        self,
        user: t.Mapping[str, t.Any],
        account: t.Mapping[str, t.Any],
        *,
        profile: t.Mapping[str, t.Any] | None = None,
        allow_email_linking: bool = False,
    ) -> tuple[t.Mapping[str, t.Any], bool]:
        """With an adapter, an OAuth or email sign-in is stored as next-auth stores it (the
        token's ``sub`` is then the adapter's user id); credentials (and any other type) and
        sign-ins without an adapter keep the provider's user."""
        if self.config.options.adapter is None or account.get("type") not in _STORED_TYPES:
            return user, False
        return resolve_user(
            self.config, user, account, profile=profile, allow_email_linking=allow_email_linking
        )

    def create(
        self,
        environ: WSGIEnvironment,
        secure: bool,
        *,
        user: t.Mapping[str, t.Any],
        account: t.Mapping[str, t.Any],
        profile: t.Mapping[str, t.Any] | None = None,
        is_new_user: bool = False,
        amr: t.Sequence[str] | None = None,
        authenticated_at: float | None = None,
    ) -> list[str] | None:
        """Issue the session token (``jwt.max_age``) in a cookie that lives ``session.max_age``;
        ``None`` when ``callbacks.jwt`` refused (returned ``None``). ``authenticated_at`` becomes
        the token's ``idp_auth_time`` (:func:`~flask_authguard.core.defences.revocation.sign_in_claims`).

        :raises SignInError: the token would take more than :data:`MAX_SIGN_IN_CHUNKS` cookies
            (``OAuthCallback`` for OAuth/OIDC, else ``Callback``).
        """
        config = self.config
        claims = {key: user[field] for key, field in _USER_CLAIMS if user.get(field) is not None}
        if "sub" in claims:
            claims["sub"] = str(claims["sub"])
        if amr:  # two_factor: how the user signed in (RFC 8176)
            claims["amr"] = list(amr)
        # defence: auth_time, sid (and idp_auth_time), kept on every refresh
        started = sign_in_claims(authenticated_at)
        claims.update(started)
        token = call_jwt_callback(
            config,
            claims,
            user=user,
            account=account,
            profile=profile,
            trigger="signUp" if is_new_user else "signIn",  # next-auth: signUp for a new user
            is_new_user=is_new_user,
        )
        if token is None:
            return None
        token = carry_sign_in_claims(started, token)
        token = with_sign_in_tokens(config, token, account)  # refresh=True: the provider's tokens
        spec = config.session_cookie(secure)
        jwt_max_age, cookie_max_age = config.jwt_max_age, config.session_max_age
        if config.max_lifetime is not None:  # defence: never past the absolute lifetime
            jwt_max_age = min(jwt_max_age, config.max_lifetime)
            cookie_max_age = min(cookie_max_age, config.max_lifetime)
        encoded = encode_token(config, token, jwt_max_age, config.salt_for(spec.name))
        chunks = -(-len(encoded) // config.chunk_size)
        if chunks > MAX_SIGN_IN_CHUNKS:  # defence: a session too large for the cookie header
            logger.warning(
                "sign-in refused: its session token would take %d cookies (at most %d); keep fewer "
                "claims in callbacks.jwt or the provider's profile",
                chunks,
                MAX_SIGN_IN_CHUNKS,
            )
            raise SignInError(_TOO_LARGE.get(str(account.get("type")), "Callback"))
        self.devices.signed_in(environ, token)
        return chunk(
            spec,
            encoded,
            existing=session_cookies(environ, spec.name),
            chunk_size=config.chunk_size,
            expires=_clock.now() + cookie_max_age,
        )

    def end(self, environ: WSGIEnvironment, secure: bool) -> None:
        """``events.sign_out(token=...)`` when there was a session cookie; nothing is stored."""
        spec = self.config.session_cookie(secure)
        candidates = session_cookie_values(environ, spec.name)[1]
        if candidates:
            secrets, salt = self.config.current_secrets(), self.config.salt_for(spec.name)
            claims = self._decode_cookie(environ, candidates, secrets, salt)
            self.devices.signed_out(claims)
            fire_event(self.config, "sign_out", token=claims)
