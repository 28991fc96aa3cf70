"""``OIDCProvider``: sign in with an OpenID Connect issuer (Keycloak, Okta, Auth0, Entra ID...).

The endpoints come from ``<issuer>/.well-known/openid-configuration`` (read on the first
sign-in, not at start-up, so an app starts without network). The ID token is verified with
joserfc (Authlib's JOSE library): the signature against the issuer's JWKS (kept for an hour,
and fetched again, at most every few seconds, when a token names a key it does not hold or its
signature does not verify: key rotation), ``iss``, ``aud`` (the client id),
``exp``, ``iat`` (both required), ``azp`` (required, and the client id, when ``aud`` names several
clients: OpenID Connect Core 3.1.3.7) and, with the ``nonce`` check, ``nonce``; a step-up sign-in's
``auth_time``. The profile is the ID token's claims, or ``userinfo_request``'s answer, read once the
ID token verified and refused when its ``sub`` is another (OpenID Connect Core 5.3.2). The session
keeps the ID token's ``auth_time`` as the moment the user authenticated (:mod:`.step_up`).
Linking to an existing user by email (``allow_dangerous_email_account_linking``) needs the
profile's ``email_verified`` to be true.

.. code-block:: python

    OIDCProvider(id="corp", name="Corp", issuer="https://id.example.com",
                 client_id=os.environ["CORP_ID"], client_secret=os.environ["CORP_SECRET"])
"""

from __future__ import annotations

import dataclasses
import threading
import typing as t

from ..core import _clock
from ..core.errors import ConfigurationError
from . import _authlib
from .base import check_url
from .oauth import OAuthProvider
from .replies import ExchangeFailed, email_verified, get_json
from .step_up import authenticated_at, check_auth_time

#: Seconds the discovery document is kept before it is read again.
DISCOVERY_TTL = 3600
#: Seconds the issuer's JWKS is kept before it is read again: the longest a key the issuer
#: withdrew is still trusted.
JWKS_TTL = DISCOVERY_TTL
#: Signature algorithms accepted for ID tokens (never ``none`` nor a shared-key HMAC).
ID_TOKEN_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
#: Clock skew allowed on ``exp``/``iat``/``nbf``, seconds.
LEEWAY = 60
#: Fewest seconds between two JWKS reads caused by an unknown key id or a bad signature.
JWKS_REFRESH_INTERVAL = 5


@dataclasses.dataclass(eq=False, kw_only=True)
class OIDCProvider(OAuthProvider):
    """An OpenID Connect provider (``type: "oidc"``): :class:`OAuthProvider`'s options, and

    :param issuer: the issuer URL; its ``/.well-known/openid-configuration`` gives the
        endpoints unless ``authorization_url``/``token_url`` are given.
    :param scope: default ``"openid email profile"``.
    :param checks: default ``("state", "pkce", "nonce")``.
    """

    issuer: str
    scope: str | None = "openid email profile"
    checks: t.Sequence[str] = ("state", "pkce", "nonce")
    type: str = dataclasses.field(default="oidc", init=False)
    #: The ``nonce`` check is compared with the verified ID token's ``nonce``.
    verifies_nonce: t.ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_url(self.id, "issuer", self.issuer, required=True)
        self.issuer = self.issuer.rstrip("/")
        super().__post_init__()
        self._lock = threading.Lock()
        self._discovered: tuple[float, dict[str, t.Any]] | None = None
        self._jwks: t.Any = None
        self._jwks_expires = float("-inf")
        self._jwks_refreshed = float("-inf")

    def _check_urls(self) -> None:
        for name in ("authorization_url", "token_url", "userinfo_url"):
            check_url(self.id, name, getattr(self, name), required=False)

    @property
    def well_known(self) -> str:
        """The discovery document's URL."""
        return f"{self.issuer}/.well-known/openid-configuration"

    def discover(self) -> dict[str, t.Any]:
        """The issuer's discovery document (cached for an hour).

        :raises ExchangeFailed: it cannot be read, or names another issuer.
        """
        now = _clock.now()
        cached = self._discovered
        if cached is not None and cached[0] > now:
            return cached[1]
        session = _authlib.oauth_session(client_id=self.client_id, timeout=self.timeout)
        document = get_json(session, self.well_known, self.timeout, with_token=False)
        if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != self.issuer:
            raise ExchangeFailed("the discovery document names another issuer")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(name), str):
                raise ExchangeFailed(f"the discovery document has no {name}")
        self._discovered = (now + DISCOVERY_TTL, document)
        return document

    def endpoints(self) -> dict[str, t.Any]:
        """The configured URLs, else the discovered ones."""
        needs_discovery = self.authorization_url is None or self.token_url is None
        document = self.discover() if needs_discovery or self._discovered else {}
        return {
            "authorization_endpoint": self.authorization_url or document.get("authorization_endpoint"),
            "token_endpoint": self.token_url or document.get("token_endpoint"),
            "userinfo_endpoint": self.userinfo_url or document.get("userinfo_endpoint"),
            "jwks_uri": document.get("jwks_uri"),
            "algorithms": document.get("id_token_signing_alg_values_supported") or ["RS256"],
        }

    def _key_set(self, *, refresh: bool = False) -> t.Any:
        """The issuer's key set: the cached one while it is younger than ``JWKS_TTL``, else read
        again; with ``refresh``, read again unless it was within ``JWKS_REFRESH_INTERVAL``."""
        from joserfc.jwk import KeySet

        with self._lock:
            now = _clock.now()
            fresh = self._jwks is not None and now < self._jwks_expires
            if fresh and (not refresh or self._jwks_refreshed + JWKS_REFRESH_INTERVAL > now):
                return self._jwks
            if refresh:
                self._jwks_refreshed = now
            session = _authlib.oauth_session(client_id=self.client_id, timeout=self.timeout)
            document = get_json(session, self.discover()["jwks_uri"], self.timeout, with_token=False)
            try:
                keys = KeySet.import_key_set(document)
            except Exception:
                raise ExchangeFailed("the JWKS is not a key set") from None
            self._jwks, self._jwks_expires = keys, now + JWKS_TTL
            return keys

    def verify_id_token(self, id_token: str, nonce: str | None) -> dict[str, t.Any]:
        """The claims of a verified ID token.

        :raises ExchangeFailed: bad signature, unknown key, wrong ``iss``/``aud``/``azp``/``nonce``,
            expired, no ``iat`` or ``sub``, or not a JWT.
        """
        from joserfc import jwt
        from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError, MissingKeyError

        allowed = [a for a in self.endpoints()["algorithms"] if a in ID_TOKEN_ALGORITHMS] or ["RS256"]
        keys = self._key_set()
        try:
            try:
                token = jwt.decode(id_token, keys, algorithms=allowed)
            except (InvalidKeyIdError, MissingKeyError, BadSignatureError):
                # A key id the cached set lacks, or new key material under a known id (or keys
                # without ids): the issuer may have rotated its keys; read them once more (at most
                # every JWKS_REFRESH_INTERVAL seconds), and verify again if they changed.
                refreshed = self._key_set(refresh=True)
                if refreshed is keys:
                    raise
                token = jwt.decode(id_token, refreshed, algorithms=allowed)
            options: dict[str, t.Any] = {
                "iss": {"essential": True, "value": self.issuer_claim()},
                "aud": {"essential": True, "value": self.client_id},
                "exp": {"essential": True},
                "iat": {"essential": True},  # OpenID Connect Core 3.1.3.7 (2.: REQUIRED)
                "sub": {"essential": True},
            }
            if nonce is not None:
                options["nonce"] = {"essential": True, "value": nonce}
            registry = jwt.JWTClaimsRegistry(now=lambda: int(_clock.now()), leeway=LEEWAY, **options)
            registry.validate(token.claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise ExchangeFailed(f"the ID token was refused: {type(exc).__name__}") from None
        self._check_azp(token.claims)
        return dict(token.claims)

    def _check_azp(self, claims: t.Mapping[str, t.Any]) -> None:
        """OpenID Connect Core 3.1.3.7: a token for several audiences must name this client as
        its authorized party (``azp``); an ``azp`` that is present must be this client.

        :raises ExchangeFailed: it does not.
        """
        audience, azp = claims.get("aud"), claims.get("azp")
        if isinstance(audience, list) and len(audience) > 1 and azp is None:
            raise ExchangeFailed("the ID token names several audiences and no azp")
        if azp is not None and azp != self.client_id:
            raise ExchangeFailed("the ID token's azp is another client")

    def may_link_by_email(self, profile: t.Mapping[str, t.Any] | None) -> bool:
        """``allow_dangerous_email_account_linking`` and a profile (the ID token's claims, or
        ``userinfo_request``'s answer) whose ``email_verified`` is true: an issuer that does not
        vouch for the address never links an account to the user who owns it."""
        return self.allow_dangerous_email_account_linking and email_verified(
            (profile or {}).get("email_verified")
        )

    def issuer_claim(self) -> str:
        """The ``iss`` an ID token must carry: the discovery document's issuer."""
        return str(self.discover().get("issuer", self.issuer))

    def read_identity(
        self, session: t.Any, tokens: t.Mapping[str, t.Any], checked: t.Mapping[str, str]
    ) -> tuple[t.Any, float | None]:
        """The profile and when the user authenticated, from the verified ID token: its claims
        (``userinfo_request``'s answer instead, when given, whose ``sub`` must be the ID token's)
        and its ``auth_time`` (:func:`~.step_up.authenticated_at`).

        The ID token is verified whether or not ``userinfo_request`` reads the profile: it is the
        one answer that proves the sign-in is this browser's (``nonce``), for this client, and
        recent enough for a step-up sign-in; the account keeps it.

        :raises ExchangeFailed: no ID token, or one refused; a step-up sign-in's ``auth_time``
            missing or too old; a userinfo answer for another ``sub``.
        """
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise ExchangeFailed("the token endpoint answered no id_token")
        claims = self.verify_id_token(id_token, checked.get("nonce"))
        now = _clock.now()
        try:  # a step-up sign-in: the provider must have asked again
            check_auth_time(claims, checked.get("max_age"), now, LEEWAY)
        except ValueError as exc:
            raise ExchangeFailed(str(exc)) from None
        if self.userinfo_request is None:
            return claims, authenticated_at(claims, now)
        profile = self.read_profile(session, tokens, checked)
        # OpenID Connect Core 5.3.2: a userinfo answer about someone else must not be used
        if isinstance(profile, t.Mapping) and "sub" in profile and profile["sub"] != claims["sub"]:
            raise ExchangeFailed("the userinfo answer's sub is not the ID token's")
        return profile, authenticated_at(claims, now)


def check_issuer(issuer: t.Any, where: str) -> str:
    """A preset's issuer URL, checked.

    :raises ConfigurationError: not an http(s) URL.
    """
    if not isinstance(issuer, str) or not issuer.startswith(("https://", "http://")):
        raise ConfigurationError(f"{where}: issuer must be an https URL, not {issuer!r}")
    return issuer
