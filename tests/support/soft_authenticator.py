"""A software passkey authenticator (ES256, "none" attestation) for the protocol tests: it
answers the options JSON of ``/webauthn-options`` with what a browser's
``PublicKeyCredential.toJSON()`` gives, built byte by byte as WebAuthn defines it, so the server
side is checked by py_webauthn against real signatures (no mock)."""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
import typing as t

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.encode_cbor import encode_cbor

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(raw: bytes) -> str:
    return bytes_to_base64url(raw)


class SoftAuthenticator:
    """One resident passkey per relying party, a signature counter that counts (like Chromium's
    virtual authenticator), user verification on unless told otherwise.

    :param counting: whether the counter goes up at each use (synced passkeys send 0).
    """

    def __init__(self, *, counting: bool = True, synced: bool = True) -> None:
        self.counting = counting
        self.synced = synced
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.counter = 0
        self.user_handle: bytes | None = None

    @property
    def id(self) -> str:
        return b64url(self.credential_id)

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return encode_cbor(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _auth_data(self, rp_id: str, flags: int, attested: bytes = b"") -> bytes:
        if self.counting:
            self.counter += 1
        backup = BE | BS if self.synced else 0
        head = hashlib.sha256(rp_id.encode()).digest() + bytes([flags | backup])
        return head + struct.pack(">I", self.counter if self.counting else 0) + attested

    @staticmethod
    def client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()

    def register(
        self, options: t.Mapping[str, t.Any], origin: str, *, verified: bool = True, rp_id: str | None = None
    ) -> dict[str, t.Any]:
        """``navigator.credentials.create()``'s JSON for registration ``options``."""
        rp = rp_id or options["rp"]["id"]
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        attested = (
            bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + self._cose_key()
        )
        flags = UP | AT | (UV if verified else 0)
        auth_data = self._auth_data(rp, flags, attested)
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self.client_data("webauthn.create", options["challenge"], origin)
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal", "hybrid"],
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    def authenticate(
        self,
        options: t.Mapping[str, t.Any],
        origin: str,
        *,
        verified: bool = True,
        rp_id: str | None = None,
        challenge: str | None = None,
    ) -> dict[str, t.Any]:
        """``navigator.credentials.get()``'s JSON for authentication ``options``."""
        rp = rp_id or options["rpId"]
        auth_data = self._auth_data(rp, UP | (UV if verified else 0))
        client_data = self.client_data("webauthn.get", challenge or options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        response = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
        }
        if self.user_handle is not None:
            response["userHandle"] = b64url(self.user_handle)
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": response,
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }
