"""``PasskeyProvider``: sign in with a passkey (WebAuthn), as Auth.js's Passkey provider does.

.. code-block:: python

    from flask_authguard import AuthGuard, PasskeyProvider
    from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

    AuthGuard(app, {
        "secret": "...",
        "url": "https://app.example.com",                 # the relying party: its host and origin
        "adapter": SQLAlchemyAdapter("sqlite:///auth.db", create_tables=True),
        "providers": [PasskeyProvider(), ...],
    })

Auth.js v5's routes and data (the JSON of ``py_webauthn``, whose author also wrote the
SimpleWebAuthn library Auth.js uses):

- ``GET <base>/webauthn-options/passkey?action=authenticate`` answers
  ``{"action": "authenticate", "options": <PublicKeyCredentialRequestOptionsJSON>}`` with no
  ``allowCredentials`` (discoverable credentials: the browser offers the passkeys it has for the
  site, no username asked); ``action=register`` (a signed-in user only) answers
  ``{"action": "register", "options": <PublicKeyCredentialCreationOptionsJSON>}`` with resident
  keys and user verification required and the user's passkeys excluded. The challenge goes in
  an encrypted 15-minute cookie (:mod:`.passkey_challenge`).
- ``POST <base>/callback/passkey`` with the form fields ``csrfToken``, ``callbackUrl``,
  ``action`` and ``data`` (the JSON of ``PublicKeyCredential.toJSON()``) checks the response
  against the cookie's challenge (used once), the relying party's id and origin, user presence
  and verification, and the signature counter, then signs the passkey's user in (or, for
  ``register``, stores the new passkey: :mod:`flask_authguard.endpoints.passkeys`).

The relying party's id is the host of the trusted origin and its origin that origin
(:func:`~flask_authguard.core.defences.urls.link_origin`: ``url``, ``trusted_hosts``, or loopback in
development), never an untrusted ``Host`` header.

Passkeys are stored through the adapter in Auth.js's ``Authenticator`` table
(:mod:`flask_authguard.adapters.authenticators`), with an ``accounts`` row of type ``webauthn``
for each, as Auth.js links them. Needs ``pip install "flask-authguard[passkeys]"``.

.. versionadded:: 0.1
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import secrets
import typing as t
from urllib.parse import urlsplit

from ..core._compat import call_sync
from ..core.defences.urls import AUTH_URL_ENVIRON_KEY
from ..core.errors import ConfigurationError
from .base import SignInError, SignInResult, adapter_with, check_provider_id
from .passkey_challenge import ChallengeFailed, challenge_cookie, clear_challenge, read_challenge

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Request, Response

    from ..core.settings.config import Config

try:
    import webauthn
    from webauthn.helpers import bytes_to_base64url
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )
except ImportError:  # pragma: no cover - the extra is not installed
    webauthn = None  # type: ignore[assignment]

logger = logging.getLogger("flask_authguard")

#: The adapter methods passkeys need.
ADAPTER_METHODS = (
    "get_user",
    "get_user_by_email",
    "create_user",
    "link_account",
    "unlink_account",
    "create_authenticator",
    "get_authenticator",
    "list_authenticators_by_user_id",
    "update_authenticator_counter",
    "delete_authenticator",
)
#: The error code of a passkey that could not be verified (Auth.js's ``WebAuthnVerificationError``).
VERIFICATION_ERROR = "WebAuthnVerificationError"
#: The transports WebAuthn names (others a browser reports are dropped).
TRANSPORTS = frozenset({"usb", "nfc", "ble", "smart-card", "hybrid", "internal", "cable"})
#: Auth.js's (SimpleWebAuthn's) names of py_webauthn's device types.
DEVICE_TYPES = {"single_device": "singleDevice", "multi_device": "multiDevice"}
#: Auth.js's ceremony timeout: five minutes.
DEFAULT_TIMEOUT = 5 * 60
#: The oldest sign-in, in seconds, that may add a passkey (``add_max_age``): time to add one
#: right after signing in (the email link's welcome page offers it), not a session's days.
DEFAULT_ADD_MAX_AGE = 10 * 60


def to_base64(raw: bytes) -> str:
    """Standard base64, padded: how Auth.js stores credential ids and public keys."""
    return base64.b64encode(raw).decode("ascii")


def from_base64(text: str) -> bytes:
    """Bytes of standard base64 or base64url, padded or not (as Node's ``Buffer.from(text,
    "base64")`` reads both).

    :raises ValueError: not base64.
    """
    cleaned = text.replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc


def parse_data(form: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The ``data`` field: the JSON of ``PublicKeyCredential.toJSON()``, an object with a
    string ``id``.

    :raises SignInError: it is missing or malformed.
    """
    raw = form.get("data")
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except (ValueError, RecursionError):  # RecursionError: brackets nested too deep to decode
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        logger.info("passkey: the callback's data is not a WebAuthn response")
        raise SignInError(VERIFICATION_ERROR)
    return data


@dataclasses.dataclass(eq=False, kw_only=True)
class PasskeyProvider:
    """Passkey sign-in (Auth.js's ``type: "webauthn"``, ``Passkey`` preset). Needs an adapter
    with the authenticator methods (:class:`~flask_authguard.adapters.sqlalchemy.SQLAlchemyAdapter`).

    :param id: the provider id in URLs.
    :param name: shown on the pages ("Sign in with a passkey").
    :param rp_name: the relying party's name the browser shows; default the trusted origin's host.
    :param timeout: seconds the browser gives the user (a hint; default five minutes).
    :param add_max_age: adding a passkey needs a sign-in at most this many seconds old (default
        ten minutes; ``None``: any live session may add one). A passkey outlives the session
        that added it: an older session, or a stolen cookie, would otherwise turn itself into a
        fresh sign-in, past every ``max_age`` (step-up) view and past "sign out everywhere". An
        older session is sent to sign in again (with ``max_age``), and back to the passkeys page.
    """

    id: str = "passkey"
    name: str = "Passkey"
    rp_name: str | None = None
    timeout: int = DEFAULT_TIMEOUT
    add_max_age: int | None = DEFAULT_ADD_MAX_AGE
    type: str = dataclasses.field(default="webauthn", init=False)
    callback_methods: tuple[str, ...] = dataclasses.field(default=("POST",), init=False)
    callback_csrf: bool = dataclasses.field(default=True, init=False)

    def __post_init__(self) -> None:
        check_provider_id(self.id)
        if webauthn is None:
            raise ConfigurationError(
                'PasskeyProvider needs py_webauthn: pip install "flask-authguard[passkeys]"'
            )
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, int) or self.timeout <= 0:
            raise ConfigurationError(
                f"PasskeyProvider(timeout=...) must be seconds > 0, not {self.timeout!r}"
            )
        age = self.add_max_age
        if age is not None and (isinstance(age, bool) or not isinstance(age, int) or age < 1):
            raise ConfigurationError(
                f"PasskeyProvider(add_max_age=...) must be whole seconds (at least 1) or None, "
                f"not {self.add_max_age!r}"
            )
        self._config: Config | None = None

    def bind(self, config: Config) -> None:
        """Start-up: an adapter with the authenticator methods is required.

        :raises ConfigurationError: no adapter, or one that lacks a method.
        """
        adapter_with(config, "PasskeyProvider", "passkeys", ADAPTER_METHODS)
        self._config = config

    @property
    def config(self) -> Config:
        """The options the endpoints bound this provider to."""
        if self._config is None:
            raise ConfigurationError(f"provider {self.id!r} was not set up by the endpoints (bind)")
        return self._config

    def relying_party(self, request: Request) -> tuple[str, str]:
        """``(rp id, origin)``: the host and origin of the request's trusted origin (the
        endpoints put it in the environ; never the ``Host`` header's own say).

        :raises ConfigurationError: outside the endpoints (no trusted origin known).
        """
        auth_url = request.environ.get(AUTH_URL_ENVIRON_KEY)
        parts = urlsplit(auth_url) if isinstance(auth_url, str) else None
        if parts is None or not parts.hostname:
            raise ConfigurationError("passkeys need a trusted origin (url, trusted_hosts)")
        return parts.hostname, f"{parts.scheme}://{parts.netloc}"

    def _secure(self, request: Request) -> bool:
        return self.config.is_secure(request.scheme)

    # -- GET /webauthn-options/<id> ---------------------------------------------------------------

    def authentication_options(self, request: Request) -> tuple[dict[str, t.Any], str]:
        """The options of a sign-in (no ``allowCredentials``: discoverable credentials) and the
        ``Set-Cookie`` value of their challenge."""
        rp_id, _ = self.relying_party(request)
        options = webauthn.generate_authentication_options(
            rp_id=rp_id,
            timeout=self.timeout * 1000,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        challenge = bytes_to_base64url(options.challenge)
        cookie = challenge_cookie(
            self.config, challenge, self._secure(request), provider=self.id, action="authenticate"
        )
        return json.loads(webauthn.options_to_json(options)), cookie

    def registration_options(
        self, request: Request, *, user: t.Mapping[str, t.Any], existing: t.Sequence[t.Mapping[str, t.Any]]
    ) -> tuple[dict[str, t.Any], str]:
        """The options of a new passkey for the signed-in ``user`` (``sub``, ``email``,
        ``name``: who the cookie binds the ceremony to), its ``existing`` passkeys excluded,
        and the ``Set-Cookie`` value of their challenge."""
        rp_id, origin = self.relying_party(request)
        email = str(user["email"])
        options = webauthn.generate_registration_options(
            rp_id=rp_id,
            rp_name=self.rp_name or urlsplit(origin).netloc,
            user_name=email,
            # random, as Auth.js: the passkey's user is found through its stored credential id
            user_id=secrets.token_bytes(32),
            user_display_name=str(user.get("name") or email),
            timeout=self.timeout * 1000,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[_descriptor(a) for a in existing],
        )
        challenge = bytes_to_base64url(options.challenge)
        owner = {"sub": user.get("sub"), "email": email}
        cookie = challenge_cookie(
            self.config, challenge, self._secure(request), provider=self.id, action="register", user=owner
        )
        return json.loads(webauthn.options_to_json(options)), cookie

    # -- POST /callback/<id> ----------------------------------------------------------------------

    def begin_sign_in(self, request: Request, *, callback_url: str, redirect_uri: str) -> Response | None:
        """Passkeys have no server-side first step: ``POST /signin/<id>`` shows the sign-in page."""
        return None

    def handle_callback(self, request: Request, form: t.Mapping[str, t.Any]) -> SignInResult | None:
        """Verify a sign-in (``action=authenticate``): the passkey's user.

        :raises SignInError: ``WebAuthnVerificationError`` (unknown passkey, bad or replayed
            challenge, another origin, no user verification, a counter that went back); the
            challenge cookie is cleared either way.
        """
        config = self.config
        adapter = config.options.adapter
        cleared = [clear_challenge(config, self._secure(request))]
        if form.get("action") != "authenticate":
            logger.info("passkey: a sign-in needs action=authenticate")
            raise SignInError(VERIFICATION_ERROR, cookies=cleared)
        try:
            data = parse_data(form)
            claims = read_challenge(
                config, request, self._secure(request), provider=self.id, action="authenticate"
            )
            credential_id = to_base64(from_base64(data["id"]))
        except (SignInError, ChallengeFailed, ValueError) as exc:
            logger.info("passkey: sign-in refused: %s", exc)
            raise SignInError(VERIFICATION_ERROR, cookies=cleared) from None
        stored = call_sync(adapter.get_authenticator, credential_id)
        if stored is None:
            logger.info("passkey: sign-in with a passkey this site does not know (removed?)")
            raise SignInError(VERIFICATION_ERROR, cookies=cleared)
        rp_id, origin = self.relying_party(request)
        try:
            verified = webauthn.verify_authentication_response(
                credential=data,
                expected_challenge=webauthn.base64url_to_bytes(claims["challenge"]),
                expected_rp_id=rp_id,
                expected_origin=origin,
                credential_public_key=from_base64(stored["credentialPublicKey"]),
                credential_current_sign_count=int(stored["counter"]),
                require_user_verification=True,
            )
        except Exception as exc:  # py_webauthn's errors, and whatever malformed JSON raises in it
            logger.info("passkey: sign-in refused: %s: %s", type(exc).__name__, exc)
            raise SignInError(VERIFICATION_ERROR, cookies=cleared) from None
        call_sync(adapter.update_authenticator_counter, credential_id, verified.new_sign_count)
        user = call_sync(adapter.get_user, stored["userId"])
        if user is None:
            raise SignInError(VERIFICATION_ERROR, cookies=cleared)
        account = {"provider": self.id, "type": "webauthn", "providerAccountId": stored["providerAccountId"]}
        return SignInResult(user=dict(user), account=account, cookies=cleared)

    def verify_registration(
        self, request: Request, form: t.Mapping[str, t.Any], *, user: t.Mapping[str, t.Any]
    ) -> dict[str, t.Any]:
        """Verify a new passkey (``action=register``) made for the signed-in ``user`` (``sub``
        and ``email`` as the options' cookie holds them): the authenticator record to store
        (without ``userId``). The caller clears the challenge cookie.

        :raises SignInError: ``WebAuthnVerificationError``: malformed, for another origin or
            challenge, made for another user, no user verification.
        """
        try:
            data = parse_data(form)
            claims = read_challenge(
                self.config, request, self._secure(request), provider=self.id, action="register"
            )
        except (SignInError, ChallengeFailed) as exc:
            logger.info("passkey: registration refused: %s", exc)
            raise SignInError(VERIFICATION_ERROR) from None
        owner = claims.get("user") or {}
        if owner.get("sub") != user.get("sub") or owner.get("email") != user.get("email"):
            logger.info("passkey: registration refused: the options were made for another user")
            raise SignInError(VERIFICATION_ERROR)
        rp_id, origin = self.relying_party(request)
        try:
            verified = webauthn.verify_registration_response(
                credential=data,
                expected_challenge=webauthn.base64url_to_bytes(claims["challenge"]),
                expected_rp_id=rp_id,
                expected_origin=origin,
                require_user_verification=True,
            )
        except Exception as exc:  # py_webauthn's errors, and whatever malformed JSON raises in it
            logger.info("passkey: registration refused: %s: %s", type(exc).__name__, exc)
            raise SignInError(VERIFICATION_ERROR) from None
        credential_id = to_base64(verified.credential_id)
        response = data.get("response")
        reported = response.get("transports") if isinstance(response, dict) else None
        transports = [x for x in reported if x in TRANSPORTS] if isinstance(reported, list) else []
        return {
            "credentialID": credential_id,
            "providerAccountId": credential_id,
            "credentialPublicKey": to_base64(verified.credential_public_key),
            "counter": verified.sign_count,
            "credentialDeviceType": DEVICE_TYPES[verified.credential_device_type.value],
            "credentialBackedUp": verified.credential_backed_up,
            "transports": ",".join(transports) or None,
        }


def _descriptor(authenticator: t.Mapping[str, t.Any]) -> t.Any:
    transports = [x for x in (authenticator.get("transports") or "").split(",") if x in TRANSPORTS]
    return PublicKeyCredentialDescriptor(
        id=from_base64(authenticator["credentialID"]),
        transports=[webauthn.helpers.structs.AuthenticatorTransport(x) for x in transports] or None,
    )


def is_passkey_provider(provider: t.Any) -> t.TypeGuard[PasskeyProvider]:
    """Whether ``provider`` is a passkey provider."""
    return isinstance(provider, PasskeyProvider)


__all__ = [
    "ADAPTER_METHODS",
    "DEFAULT_TIMEOUT",
    "TRANSPORTS",
    "VERIFICATION_ERROR",
    "PasskeyProvider",
    "from_base64",
    "is_passkey_provider",
    "parse_data",
    "to_base64",
]
