"""A256CBC-HS512 (RFC 7518, section 5.2.2), the content encryption of Auth.js v5 tokens.

.. code-block:: python

    from flask_authguard.core.tokens.cbc_hs512 import cbc_key

    iv, ciphertext, tag = cbc_key(key).seal(aad, plaintext)
    assert cbc_key(key).open(aad, iv, ciphertext, tag) == plaintext

AES-CBC is ``cryptography``'s ``Cipher(AES, CBC)`` and the tag is ``cryptography``'s
HMAC-SHA512; only the composition the RFC defines is written here. What a token's crypto needs
that does not change per token is prepared once per 64-byte key (:func:`cbc_key`): the MAC half
keyed into an HMAC that each tag copies, the AES half as one ``algorithms.AES``, and one CBC
encryptor and one decryptor per thread (see :meth:`CbcHs512.seal` and :meth:`CbcHs512.open`).
"""

from __future__ import annotations

import functools
import hmac
import os
import threading
import typing as t

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hmac import HMAC

if t.TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import CipherContext

#: Key, tag and IV lengths of A256CBC-HS512, in bytes.
KEY_LENGTH = 64
TAG_LENGTH = 32
IV_LENGTH = 16
_BLOCK = 16


class CbcHs512:
    """A256CBC-HS512 under one key: the first 32 bytes authenticate, the last 32 encrypt.

    :param key: the 64-byte content-encryption key.
    """

    __slots__ = ("_aes", "_local", "_mac")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_LENGTH:
            raise ValueError(f"A256CBC-HS512 needs a {KEY_LENGTH}-byte key, not {len(key)} bytes")
        # Keyed once: a tag copies this state instead of keying a new HMAC.
        self._mac = HMAC(key[:32], hashes.SHA512())
        self._aes = algorithms.AES(key[32:])
        self._local = threading.local()

    def tag(self, aad: bytes, iv: bytes, ciphertext: bytes) -> bytes:
        """The authentication tag of ``ciphertext`` (see :func:`_tag`)."""
        return _tag(self._mac, aad, iv, ciphertext)

    def seal(self, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes, bytes]:
        """Encrypt ``plaintext`` (PKCS#7-padded) under a fresh IV: ``(iv, ciphertext, tag)``.

        The IV is the encryption of a fresh random block under the same key, one of the ways
        NIST SP 800-38A (appendix C) gives to make CBC IVs unpredictable: this thread's kept CBC
        encryptor, fed ``R || padded plaintext`` with ``R`` from ``os.urandom``, answers first
        ``E(R xor S)`` (``S``: the block it chained last), as uniformly random and unpredictable
        as ``R`` itself, then the ciphertext chained from exactly that IV. cryptography does every
        block and every xor; no Cipher, mode or key schedule is built per token.
        """
        pad = _BLOCK - len(plaintext) % _BLOCK
        encryptor = self._context("encryptor")
        try:
            sealed = encryptor.update(os.urandom(IV_LENGTH) + plaintext + bytes((pad,)) * pad)
        except BaseException:
            del self._local.encryptor  # its state is unknown now: the next token gets a new one
            raise
        iv, ciphertext = sealed[:IV_LENGTH], sealed[IV_LENGTH:]
        return iv, ciphertext, _tag(self._mac, aad, iv, ciphertext)

    def open(self, aad: bytes, iv: bytes, ciphertext: bytes, tag: bytes) -> bytes | None:
        """The plaintext, or ``None`` when the tag, the length or the padding is wrong.

        The tag is checked first (in constant time), so the padding check that follows only
        ever sees authentic ciphertext and cannot serve as a padding oracle.

        :raises ValueError: an IV that is not 16 bytes (as ``modes.CBC`` raises).
        """
        if len(iv) != IV_LENGTH:
            raise ValueError(f"A256CBC-HS512 needs a {IV_LENGTH}-byte IV, not {len(iv)} bytes")
        if not hmac.compare_digest(_tag(self._mac, aad, iv, ciphertext), tag) or len(ciphertext) % _BLOCK:
            return None
        # CBC decrypts block i as D(C[i]) xor C[i-1], with C[0] = IV. So a CBC decryptor fed
        # IV || ciphertext, whatever block it chained last, answers one block of noise (D(IV)
        # xor that block, dropped), then exactly this token's plaintext: each thread keeps one
        # decryptor per key instead of building a Cipher, a mode and a key schedule per token.
        # cryptography does every block and every xor. Only whole blocks are fed, so nothing is
        # ever left buffered in it for the next token.
        decryptor = self._context("decryptor")
        try:
            padded = decryptor.update(iv + ciphertext)[_BLOCK:]
        except BaseException:
            del self._local.decryptor  # its state is unknown now: the next token gets a new one
            raise
        # PKCS#7, checked as cryptography's unpadder does.
        pad = padded[-1] if padded else 0
        if not 1 <= pad <= _BLOCK or padded[-pad:] != bytes((pad,)) * pad:
            return None
        return padded[:-pad]

    def _context(self, kind: t.Literal["encryptor", "decryptor"]) -> CipherContext:
        """This thread's CBC encryptor or decryptor of the key, made on first use and never
        finalized (whole blocks only go in, so none is ever left buffered)."""
        context: CipherContext | None = getattr(self._local, kind, None)
        if context is None:
            cipher = Cipher(self._aes, modes.CBC(bytes(IV_LENGTH)))
            context = cipher.encryptor() if kind == "encryptor" else cipher.decryptor()
            setattr(self._local, kind, context)
        return context


def _tag(keyed: HMAC, aad: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """HMAC-SHA512 of ``aad || iv || ciphertext || AL`` on a copy of ``keyed``, truncated to 32
    bytes (``AL``: the bit length of ``aad``, 64-bit big-endian)."""
    mac = keyed.copy()
    mac.update(b"".join((aad, iv, ciphertext, (len(aad) * 8).to_bytes(8, "big"))))
    return mac.finalize()[:TAG_LENGTH]


@functools.lru_cache(maxsize=64)
def cbc_key(key: bytes) -> CbcHs512:
    """The prepared :class:`CbcHs512` of a 64-byte key (cached: a handful of keys per process)."""
    return CbcHs512(key)


@functools.lru_cache(maxsize=64)
def _mac_of(mac_key: bytes) -> HMAC:
    return HMAC(mac_key, hashes.SHA512())


def mac_tag(mac_key: bytes, aad: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """The tag under ``mac_key`` alone (the key's first half), for tools and checks."""
    return _tag(_mac_of(mac_key), aad, iv, ciphertext)
