"""Auth.js v5's A256CBC-HS512 (:mod:`flask_authguard.core.tokens.cbc_hs512`): the same answers as
``cryptography``'s CBC and the standard library's HMAC-SHA512, per token and per thread."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("blocks", [1, 2, 3, 17, 64])
def test_v5_decryption_matches_cryptographys_cbc(blocks: int) -> None:
    import os

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from flask_authguard.core.tokens import jwt as jwt_mod
    from flask_authguard.core.tokens.cbc_hs512 import mac_tag

    key = os.urandom(64)
    for _ in range(20):
        iv, ciphertext = os.urandom(16), os.urandom(16 * blocks)
        decryptor = Cipher(algorithms.AES(key[32:]), modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        tag = mac_tag(key[:32], b"aad", iv, ciphertext)
        parts = jwt_mod._Parts("aad", "A256CBC-HS512", None, iv, ciphertext, tag)
        pad = padded[-1]
        valid = 1 <= pad <= 16 and padded[-pad:] == bytes([pad]) * pad
        assert jwt_mod._decrypt(parts, key) == (padded[:-pad] if valid else None)


def test_v5_tokens_of_every_padding_length_round_trip() -> None:
    from flask_authguard.core.tokens import jwt as jwt_mod

    salt = "authjs.session-token"
    for size in range(40):
        token = jwt_mod.encode(token={"sub": "x" * size}, secret="s" * 32, salt=salt, version=5)
        claims = jwt_mod.decrypt(token=token, secret="s" * 32, salt=salt, version=5)
        assert claims["sub"] == "x" * size


def test_cbc_tag_is_stdlib_hmac_sha512() -> None:
    import hashlib
    import hmac
    import os

    from flask_authguard.core.tokens.cbc_hs512 import mac_tag

    for size in (0, 1, 15, 16, 111, 112, 127, 128, 129, 1000):
        key, aad, iv, ciphertext = os.urandom(32), os.urandom(7), os.urandom(16), os.urandom(size)
        message = aad + iv + ciphertext + (len(aad) * 8).to_bytes(8, "big")
        expected = hmac.new(key, message, hashlib.sha512).digest()[:32]
        assert mac_tag(key, aad, iv, ciphertext) == expected


def test_v5_kept_decryptor_answers_each_token_alone() -> None:
    """One CBC encryptor and decryptor per thread and key serve token after token: every answer
    is what a fresh Cipher(AES, CBC(iv)) gives, whatever token came before, and no IV repeats."""
    import os
    import random

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from flask_authguard.core.tokens.cbc_hs512 import CbcHs512

    key = os.urandom(64)
    box = CbcHs512(key)
    rng = random.Random(15)
    ivs = set()
    for _ in range(200):
        plaintext = os.urandom(rng.randrange(0, 100))
        iv, ciphertext, tag = box.seal(b"aad", plaintext)
        assert len(iv) == 16 and iv not in ivs and len(ciphertext) == (len(plaintext) // 16 + 1) * 16
        ivs.add(iv)
        fresh = Cipher(algorithms.AES(key[32:]), modes.CBC(iv)).decryptor()
        padded = fresh.update(ciphertext) + fresh.finalize()
        assert padded[: len(plaintext)] == plaintext
        assert box.open(b"aad", iv, ciphertext, tag) == plaintext
        if rng.random() < 0.3:  # refused ones in between change nothing for the next
            assert box.open(b"aad", iv, ciphertext[:-1], tag) is None
            assert box.open(b"aad", iv, ciphertext, bytes(32)) is None
    with pytest.raises(ValueError):
        box.open(b"aad", b"short", b"", bytes(32))


def test_v5_kept_decryptors_are_per_thread() -> None:
    import os
    import threading

    from flask_authguard.core.tokens.cbc_hs512 import CbcHs512

    box = CbcHs512(os.urandom(64))
    tokens = []
    for size in range(40):
        plaintext = os.urandom(size)
        tokens.append((*box.seal(b"h", plaintext), plaintext))
    wrong: list[int] = []

    def work() -> None:
        for _ in range(200):
            for iv, ciphertext, tag, plaintext in tokens:
                if box.open(b"h", iv, ciphertext, tag) != plaintext:
                    wrong.append(len(plaintext))
                if box.open(b"h", *box.seal(b"h", plaintext)) != plaintext:
                    wrong.append(-len(plaintext))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
