"""A second factor, framework-free: the ``two_factor`` option, TOTP codes, recovery codes, and the
secret sealed for storage.

- Codes are RFC 6238 TOTP (``pyotp``: SHA-1, six digits, 30-second steps, as every authenticator
  app reads an ``otpauth://`` URI), accepted one step either side of now, and only for a time step
  later than the last one used (:func:`matching_step`): a code is good once.
- Recovery codes are ten random ``xxxxx-xxxxx`` codes (50 bits each); only their SHA-256 is kept
  (:func:`recovery_hash`), and each is good once.
- The TOTP secret is stored sealed (:func:`seal_secret`): AES-256-GCM under a key derived with
  HKDF-SHA256 from the app's ``secret`` (the newest seals, every configured one opens, so the
  secret can rotate), with the user id as associated data (a sealed secret moved to another
  user's record does not open).

A user's record, as the adapter's table or your ``load``/``save`` callbacks hold it, is a plain
JSON-able dict: ``{"secret": <sealed>, "last_step": <int>, "recovery_codes": [<sha256 hex>...]}``.

Needs the extra: ``pip install "flask-authguard[two-factor]"``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import os
import secrets as _secrets
import typing as t

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import _clock
from .errors import ConfigurationError

#: Seconds of one TOTP time step, and the steps accepted either side of now (clock drift).
STEP_SECONDS = 30
DRIFT_STEPS = 1
#: The longest account label (email, else name) an ``otpauth://`` URI carries, in characters:
#: authenticator apps show it on one line, and a longer one only makes the QR code denser.
ACCOUNT_LABEL_LENGTH = 64
#: How many recovery codes an enrolment gives.
RECOVERY_CODE_COUNT = 10
#: The methods a session's ``amr`` names (RFC 8176 values, and Okta's ``email``; ``fed`` is
#: Microsoft Entra's word for a sign-in at another identity provider), by provider type.
FIRST_FACTOR_AMR = {"credentials": "pwd", "email": "email", "oauth": "fed", "oidc": "fed"}
#: The ``amr`` value of the second factor (a TOTP code or a recovery code).
SECOND_FACTOR_AMR = "otp"
#: The ``amr`` of a passkey sign-in: a hardware-bound key (``hwk``) unlocked by the user's PIN or
#: biometric (WebAuthn user verification, which :class:`~flask_authguard.PasskeyProvider`
#: requires), so two factors at once (``mfa``): it needs no code after it, and passes ``mfa=True``.
PASSKEY_AMR = ("hwk", "mfa")
#: The provider type of a passkey sign-in (:class:`~flask_authguard.PasskeyProvider`, Auth.js's).
PASSKEY_TYPE = "webauthn"
#: ``amr`` values that mean the second factor was passed.
MULTI_FACTOR_AMR = frozenset({SECOND_FACTOR_AMR, "mfa"})

_PREFIX = "v1."
_INFO = b"flask_authguard two-factor secret"
_RECOVERY_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l
_Record = dict[str, t.Any]


@dataclasses.dataclass
class TwoFactorOptions:
    """``two_factor``: a second factor (TOTP) each user may turn on. ``two_factor=True`` keeps the
    records in the adapter's ``authguard_two_factor`` table; without an adapter, give
    ``load`` and ``save``.
    """

    #: ``load(*, user_id) -> dict | None``: the user's record (see the module docstring).
    load: t.Callable[..., t.Any] | None = None
    #: ``save(*, user_id, record, previous)``: store ``record`` (``None``: delete it). Return
    #: ``False`` when the stored record is no longer ``previous`` (a concurrent use): the code
    #: is then refused, as a replay. Any other result means saved.
    save: t.Callable[..., t.Any] | None = None
    #: The name authenticator apps show (the URI's ``issuer``); default the host of ``url``,
    #: else the request's host.
    issuer: str | None = None


def resolve_two_factor(value: t.Any, adapter: t.Any) -> TwoFactorOptions | None:
    """The ``two_factor`` option checked: ``None`` when off (a dict of its keys was made a
    :class:`TwoFactorOptions` with the other options, by
    :func:`~flask_authguard.core.settings.options.coerce_options`).

    :raises ConfigurationError: a bad value, ``pyotp`` missing, or nowhere to keep the records.
    """
    if value is None or value is False:
        return None
    if value is True:
        options = TwoFactorOptions()
    elif isinstance(value, TwoFactorOptions):
        options = value
    else:
        raise ConfigurationError(f"two_factor must be True, False or a dict with load/save, not {value!r}")
    for name in ("load", "save"):
        if getattr(options, name) is not None and not callable(getattr(options, name)):
            raise ConfigurationError(f"two_factor.{name} must be callable")
    if (options.load is None) != (options.save is None):
        raise ConfigurationError("two_factor needs both load and save, or neither (the adapter's table)")
    if options.issuer is not None and (not isinstance(options.issuer, str) or not options.issuer.strip()):
        raise ConfigurationError(f"two_factor.issuer must be a non-empty string, not {options.issuer!r}")
    if options.load is None and not all(
        callable(getattr(adapter, name, None)) for name in ("get_two_factor", "save_two_factor")
    ):
        raise ConfigurationError(
            "two_factor=True keeps each user's second factor in the adapter: use SQLAlchemyAdapter "
            "(its authguard_two_factor table), or pass two_factor={'load': ..., 'save': ...}"
        )
    try:
        import pyotp  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            'two_factor needs pyotp and segno: pip install "flask-authguard[two-factor]"'
        ) from None
    return options


# -- TOTP ------------------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh TOTP secret: 160 random bits in base32 (RFC 4226's recommended length)."""
    import pyotp

    return pyotp.random_base32(32)


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads (from the QR code).

    :param account: the label the app shows; over :data:`ACCOUNT_LABEL_LENGTH` characters it
        is cut (ending with ``…``), and a character with no UTF-8 spelling (a lone surrogate)
        becomes ``?``.
    """
    import pyotp

    if len(account) > ACCOUNT_LABEL_LENGTH:
        account = account[: ACCOUNT_LABEL_LENGTH - 1] + "\u2026"
    account = account.encode("utf-8", "replace").decode("utf-8")
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str | None:
    """``uri`` as a QR code in inline SVG (``segno``), for the enrolment page; ``None`` when
    no QR code holds it (a very long ``issuer``): the page then shows the key as text only."""
    import segno

    try:
        code = segno.make(uri, error="m")
    except segno.DataOverflowError:
        return None
    svg: str = code.svg_inline(scale=4, title="QR code of the secret")
    return svg


def current_step() -> int:
    """The TOTP time step of now (the frozen clock in tests)."""
    return int(_clock.now() // STEP_SECONDS)


def clean_code(value: t.Any) -> str:
    """A typed code without spaces and dashes, lower case; ``""`` for anything else."""
    if not isinstance(value, str) or len(value) > 64:
        return ""
    return "".join(value.split()).replace("-", "").lower()


def matching_step(secret: str, code: str, last_step: int | None) -> int | None:
    """The time step (now, or one either side) whose code is ``code``, when it is later than
    ``last_step``; ``None`` otherwise. Every candidate is compared (constant time each).

    A code is six ASCII digits: ``str.isdigit()`` alone also holds for other scripts' digits
    (``"١٢٣٤٥٦"``), which no authenticator shows and ``hmac.compare_digest`` refuses to compare."""
    import pyotp

    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = current_step()
    found = None
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        fresh = last_step is None or step > last_step
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code) and fresh and found is None:
            found = step
    return found


# -- recovery codes --------------------------------------------------------------------------


def new_recovery_codes() -> list[str]:
    """:data:`RECOVERY_CODE_COUNT` fresh codes, ``xxxxx-xxxxx``."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        text = "".join(_secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{text[:5]}-{text[5:]}")
    return codes


def recovery_hash(code: str) -> str:
    """What is stored of a recovery code: the SHA-256 of its clean form (:func:`clean_code`).
    The codes are random (50 bits), so a fast hash is enough."""
    return hashlib.sha256(clean_code(code).encode()).hexdigest()


def unused_recovery_code(code: str, hashes_: t.Sequence[str]) -> str | None:
    """The stored hash ``code`` matches, or ``None``; every hash is compared (constant time).
    Recovery codes are ASCII: anything else (a lone surrogate from JSON has no bytes to hash)
    matches nothing."""
    if len(code) != 10 or not code.isascii():
        return None
    wanted = recovery_hash(code)
    found = None
    for stored in hashes_:
        if isinstance(stored, str) and hmac.compare_digest(stored, wanted):
            found = stored
    return found


# -- the secret at rest ----------------------------------------------------------------------


def _key(secret: str) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return AESGCM(hkdf.derive(secret.encode()))


def seal_secret(totp_secret: str, *, user_id: str, secrets: t.Sequence[str]) -> str:
    """``totp_secret`` encrypted for storage with the newest of ``secrets``, bound to ``user_id``."""
    nonce = os.urandom(12)
    sealed = _key(secrets[0]).encrypt(nonce, totp_secret.encode(), user_id.encode())
    return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_secret(sealed: t.Any, *, user_id: str, secrets: t.Sequence[str]) -> str | None:
    """The TOTP secret :func:`seal_secret` sealed, or ``None`` when no secret opens it."""
    if not isinstance(sealed, str) or not sealed.startswith(_PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(sealed[len(_PREFIX) :] + "=" * (-len(sealed) % 4))
    except ValueError:
        return None
    for secret in secrets:
        try:
            return _key(secret).decrypt(raw[:12], raw[12:], user_id.encode()).decode()
        except (InvalidTag, ValueError):
            continue
    return None


def new_record(sealed: str, step: int, codes: t.Sequence[str]) -> _Record:
    """A user's record after enrolment: the sealed secret, the step of the confirming code
    (so it cannot be used again), the recovery codes' hashes."""
    return {"secret": sealed, "last_step": step, "recovery_codes": [recovery_hash(c) for c in codes]}


__all__ = [
    "ACCOUNT_LABEL_LENGTH",
    "DRIFT_STEPS",
    "FIRST_FACTOR_AMR",
    "MULTI_FACTOR_AMR",
    "PASSKEY_AMR",
    "PASSKEY_TYPE",
    "RECOVERY_CODE_COUNT",
    "SECOND_FACTOR_AMR",
    "STEP_SECONDS",
    "TwoFactorOptions",
    "clean_code",
    "current_step",
    "matching_step",
    "new_record",
    "new_recovery_codes",
    "new_secret",
    "open_secret",
    "provisioning_uri",
    "qr_svg",
    "recovery_hash",
    "resolve_two_factor",
    "seal_secret",
    "unused_recovery_code",
]
