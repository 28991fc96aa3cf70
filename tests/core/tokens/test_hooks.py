"""``flask_authguard.core.tokens.hooks``: the PyJWT decode hooks (HS256 with a shared key, a JWKS)."""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import hmac
import http.server
import json
import logging
import threading
import typing as t

import jwt as pyjwt
import pytest
from conftest import FrozenClock
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from werkzeug.test import Client

from flask_authguard import ConfigurationError, with_auth
from flask_authguard.core.tokens.hooks import MIN_REFETCH_SECONDS, hs256_decoder, jwks_decoder

NOW = 1_700_000_000
KEY = "hooks-shared-key-0123456789abcdef-0123456789"
OTHER_KEY = "hooks-other-key-fedcba9876543210-fedcba98765"
CLAIMS = {"sub": "u1", "role": "admin", "iat": NOW - 10, "exp": NOW + 3600}


@pytest.fixture(autouse=True)
def _now(frozen_clock: FrozenClock) -> FrozenClock:
    frozen_clock.now = NOW
    return frozen_clock


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(
    header: dict[str, t.Any], payload: t.Any, key: bytes | None, digest: t.Any = hashlib.sha256
) -> str:
    """A JWS made by hand, for what PyJWT refuses to produce (alg none, odd payloads, short keys)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def hs256(claims: dict[str, t.Any] | None = None, key: str = KEY, **changes: t.Any) -> str:
    payload = {**CLAIMS, **(claims or {})}
    for name, value in changes.items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    return pyjwt.encode(payload, key, algorithm="HS256")


GARBAGE: list[t.Any] = [
    pytest.param("", id="empty"),
    pytest.param("abc", id="one-part"),
    pytest.param("a.b.c", id="three-junk-parts"),
    pytest.param("....", id="dots"),
    pytest.param("eyJhbGciOiJIUzI1NiJ9.e30", id="two-parts"),
    pytest.param("eyJhbGciOiJIUzI1NiJ9." + "A" * 100_000 + ".x", id="100k"),
    pytest.param("\x00\xff\u2603.\u2603.\u2603", id="non-ascii"),
    pytest.param(None, id="none"),
    pytest.param(123, id="int"),
    pytest.param(b"a.b.c", id="bytes"),
]

# --------------------------------------------------------------------------- hs256_decoder


def test_hs256_valid_token_gives_its_claims() -> None:
    assert hs256_decoder(KEY)(token=hs256(), secret="ignored") == CLAIMS
    assert hs256_decoder(KEY.encode())(token=hs256(), secret=None) == CLAIMS


def test_hs256_key_none_verifies_with_the_secret_it_is_given() -> None:
    """next-auth's ``jwt.verify(token, secret)`` example: the middleware's secret is the key."""
    decode = hs256_decoder(None)
    assert decode(token=hs256(), secret=KEY) == CLAIMS
    assert decode(token=hs256(), secret=[OTHER_KEY, KEY]) == CLAIMS  # rotation: each is tried
    assert decode(token=hs256(), secret=OTHER_KEY) is None
    assert decode(token=hs256(), secret=None) is None
    assert decode(token=hs256(), secret=[]) is None


@pytest.mark.parametrize(
    ("token", "why"),
    [
        pytest.param(hs256(key=OTHER_KEY), "wrong key", id="wrong-key"),
        pytest.param(hs256(exp=NOW), "expired", id="expired-at-exp"),
        pytest.param(hs256(exp=NOW - 1), "expired", id="expired"),
        pytest.param(hs256(nbf=NOW + 1), "nbf", id="not-yet-valid"),
        pytest.param(hs256(exp=None), "exp required", id="no-exp"),
        pytest.param(hs256(exp="tomorrow"), "exp", id="exp-string"),
        pytest.param(hs256(exp=True), "exp", id="exp-bool"),
        pytest.param(hs256(nbf="now"), "nbf", id="nbf-string"),
        pytest.param(hs256(iat="now"), "iat", id="iat-string"),
        pytest.param(hand_signed({"alg": "none"}, CLAIMS, None), "alg none", id="alg-none"),
        pytest.param(hand_signed({"alg": "None"}, CLAIMS, None), "alg None", id="alg-None"),
        pytest.param(
            hand_signed({"alg": "HS512"}, CLAIMS, KEY.encode(), hashlib.sha512), "HS512", id="hs512"
        ),
        pytest.param(
            hand_signed({"alg": "HS256"}, [1, 2], KEY.encode()), "array payload", id="array-payload"
        ),
        pytest.param(hand_signed({"alg": "HS256"}, "x", KEY.encode()), "string payload", id="string-payload"),
        pytest.param(
            hs256()[:-2] + ("AA" if not hs256().endswith("AA") else "BB"), "tampered", id="tampered"
        ),
        pytest.param(
            hand_signed({"alg": "HS256", "crit": ["exp"]}, CLAIMS, KEY.encode()), "crit", id="unknown-crit"
        ),
    ],
)
def test_hs256_refuses_bad_tokens_without_raising(token: t.Any, why: str) -> None:
    assert hs256_decoder(KEY)(token=token, secret=KEY) is None, why


@pytest.mark.parametrize("token", GARBAGE)
def test_hs256_refuses_garbage(token: t.Any) -> None:
    assert hs256_decoder(KEY)(token=token, secret=KEY) is None
    assert hs256_decoder(None)(token=token, secret=KEY) is None


def test_hs256_time_rules_and_leeway(_now: FrozenClock) -> None:
    token = hs256(exp=NOW + 10, nbf=NOW + 5, iat=NOW + 1000)  # a future iat is fine (jose)
    strict, lenient = hs256_decoder(KEY), hs256_decoder(KEY, leeway=5)
    assert strict(token=token, secret=None) is None  # nbf ahead
    assert lenient(token=token, secret=None) is not None
    _now.now = NOW + 5
    assert strict(token=token, secret=None) is not None
    _now.now = NOW + 9
    assert strict(token=token, secret=None) is not None
    _now.now = NOW + 10
    assert strict(token=token, secret=None) is None  # now >= exp
    assert lenient(token=token, secret=None) is not None
    _now.now = NOW + 15
    assert lenient(token=token, secret=None) is None  # now >= exp + leeway


def test_hs256_float_exp_and_require_nothing() -> None:
    assert hs256_decoder(KEY)(token=hs256(exp=NOW + 0.5), secret=None) is not None
    no_exp = hs256(exp=None)
    assert hs256_decoder(KEY, require=())(token=no_exp, secret=None) == {
        "sub": "u1",
        "role": "admin",
        "iat": NOW - 10,
    }
    assert hs256_decoder(KEY, require=("exp", "sub"))(token=hs256(sub=None), secret=None) is None


@pytest.mark.parametrize(
    ("audience", "token_aud", "accepted"),
    [
        pytest.param(None, None, True, id="none-none"),
        pytest.param(None, "api", True, id="aud-ignored-without-audience"),
        pytest.param("api", "api", True, id="match"),
        pytest.param("api", ["web", "api"], True, id="in-list"),
        pytest.param(["web", "api"], "api", True, id="one-of"),
        pytest.param("api", "web", False, id="mismatch"),
        pytest.param("api", None, False, id="missing"),
        pytest.param("api", 42, False, id="not-a-string"),
    ],
)
def test_hs256_audience(audience: t.Any, token_aud: t.Any, accepted: bool) -> None:
    claims = hs256_decoder(KEY, audience=audience)(token=hs256(aud=token_aud), secret=None)
    assert (claims is not None) is accepted


@pytest.mark.parametrize(
    ("issuer", "token_iss", "accepted"),
    [
        pytest.param(None, "anyone", True, id="not-checked"),
        pytest.param("https://idp", "https://idp", True, id="match"),
        pytest.param(["https://a", "https://idp"], "https://idp", True, id="one-of"),
        pytest.param("https://idp", "https://evil", False, id="mismatch"),
        pytest.param("https://idp", None, False, id="missing"),
    ],
)
def test_hs256_issuer(issuer: t.Any, token_iss: t.Any, accepted: bool) -> None:
    claims = hs256_decoder(KEY, issuer=issuer)(token=hs256(iss=token_iss), secret=None)
    assert (claims is not None) is accepted


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        pytest.param({"key": ""}, "key", id="empty-key"),
        pytest.param({"key": 42}, "key", id="int-key"),
        pytest.param({"key": KEY, "leeway": -1}, "leeway", id="negative-leeway"),
        pytest.param({"key": KEY, "leeway": "5"}, "leeway", id="string-leeway"),
        pytest.param({"key": KEY, "audience": 3}, "audience", id="audience"),
        pytest.param({"key": KEY, "issuer": [1]}, "issuer", id="issuer"),
        pytest.param({"key": KEY, "require": "exp"}, "require", id="require-string"),
    ],
)
def test_hs256_bad_arguments_fail_at_construction(kwargs: dict[str, t.Any], names: str) -> None:
    key = kwargs.pop("key")
    with pytest.raises(ConfigurationError, match=names):
        hs256_decoder(key, **kwargs)


def test_hs256_short_key_warns_once_at_construction(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="flask_authguard"):
        hs256_decoder("short")
        hs256_decoder(KEY)
    assert [r.getMessage() for r in caplog.records] == [
        "hs256_decoder: the key is shorter than 32 bytes (RFC 7518)"
    ]


def test_refusals_are_logged_at_debug_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    token = hs256(key=OTHER_KEY)
    with caplog.at_level(logging.DEBUG, logger="flask_authguard"):
        assert hs256_decoder(KEY)(token=token, secret=None) is None
    assert caplog.records and all(r.levelno == logging.DEBUG for r in caplog.records)
    assert token not in caplog.text and KEY not in caplog.text


def _who(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    token = environ.get("authguard.token")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str((token or {}).get("sub", "-")).encode()]


def test_hs256_hook_in_with_auth_cookie_and_bearer() -> None:
    app = with_auth(_who, {"secret": KEY, "jwt": {"decode": hs256_decoder(None)}})
    client = Client(app)
    client.set_cookie("next-auth.session-token", hs256())
    assert client.get("/dashboard").data == b"u1"
    bearer = Client(app).get("/dashboard", headers={"Authorization": f"Bearer {hs256()}"})
    assert bearer.data == b"u1"
    expired = Client(app).get("/dashboard", headers={"Authorization": f"Bearer {hs256(exp=NOW - 1)}"})
    assert expired.status_code == 401  # Bearer: an API client


# --------------------------------------------------------------------------- keys for the JWKS tests


class Signer:
    """An asymmetric key, its JWK and a helper to sign tokens with it."""

    def __init__(self, kind: str, kid: str | None) -> None:
        self.kind, self.kid = kind, kid
        if kind == "RS256":
            self.private: t.Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        jwk["use"] = "sig"
        if kid is not None:
            jwk["kid"] = kid
        self.jwk: dict[str, t.Any] = jwk

    def sign(
        self, claims: dict[str, t.Any] | None = None, *, alg: str | None = None, kid: t.Any = "same"
    ) -> str:
        headers = {} if kid is None else {"kid": self.kid if kid == "same" else kid}
        return pyjwt.encode(
            {**CLAIMS, **(claims or {})}, self.private, algorithm=alg or self.kind, headers=headers
        )

    def sign_raw(self, header: dict[str, t.Any], payload: t.Any = CLAIMS) -> str:
        """Signed by hand (PyJWT refuses some headers, such as a non-string ``kid``)."""
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
        algorithm = pyjwt.get_algorithm_by_name(header["alg"])
        return f"{signing_input}.{b64(algorithm.sign(signing_input.encode(), self.private))}"

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@pytest.fixture(scope="module")
def keys() -> dict[str, Signer]:
    return {
        "rsa": Signer("RS256", "rsa-1"),
        "ec": Signer("ES256", "ec-1"),
        "rsa_other": Signer("RS256", "rsa-1"),  # same kid, another key: an impostor
        "rsa_new": Signer("RS256", "rsa-2"),  # the issuer's next key
    }


def jwks(*signers: Signer) -> dict[str, t.Any]:
    return {"keys": [s.jwk for s in signers]}


# --------------------------------------------------------------------------- jwks_decoder (dict)


def test_jwks_dict_rs256_and_es256(keys: dict[str, Signer]) -> None:
    decode = jwks_decoder(jwks(keys["rsa"], keys["ec"]))
    assert decode(token=keys["rsa"].sign(), secret="ignored") == CLAIMS
    assert decode(token=keys["ec"].sign(), secret=None) == CLAIMS
    # the hand-made tokens of the refusal table are well-formed when their header is
    assert decode(token=keys["rsa"].sign_raw({"alg": "RS256", "kid": "rsa-1"}), secret=None) == CLAIMS


def test_jwks_token_without_kid_tries_the_keys_of_its_algorithm(keys: dict[str, Signer]) -> None:
    decode = jwks_decoder(jwks(keys["rsa_new"], keys["rsa"], keys["ec"]))
    assert decode(token=keys["rsa"].sign(kid=None), secret=None) == CLAIMS
    assert decode(token=keys["rsa_other"].sign(kid=None), secret=None) is None


def _hs256_with_public_key(keys: dict[str, Signer]) -> str:
    """The classic key confusion: HS256 "signed" with the issuer's public key as HMAC secret."""
    signer = keys["rsa"]
    return hand_signed({"alg": "HS256", "kid": signer.kid}, CLAIMS, signer.public_pem())


@pytest.mark.parametrize(
    ("make", "why"),
    [
        pytest.param(lambda k: k["rsa_other"].sign(), "same kid, other key", id="impostor-key"),
        pytest.param(lambda k: k["rsa"].sign(kid="unknown"), "unknown kid", id="unknown-kid"),
        pytest.param(
            lambda k: k["rsa"].sign_raw({"alg": "RS256", "kid": 42}), "kid not a string", id="kid-int"
        ),
        pytest.param(lambda k: k["rsa"].sign(alg="RS512"), "RS512 not allowed", id="rs512-not-allowed"),
        pytest.param(lambda k: k["rsa"].sign(alg="PS256"), "PS256 not allowed", id="ps256-not-allowed"),
        pytest.param(lambda k: k["rsa"].sign({"exp": NOW}), "expired", id="expired"),
        pytest.param(lambda k: k["ec"].sign({"nbf": NOW + 60}), "nbf", id="not-yet-valid"),
        pytest.param(lambda k: k["rsa"].sign({"exp": "never"}), "exp", id="exp-string"),
        pytest.param(
            lambda k: hand_signed({"alg": "none", "kid": "rsa-1"}, CLAIMS, None), "none", id="alg-none"
        ),
        pytest.param(_hs256_with_public_key, "key confusion", id="hs256-with-public-key"),
        pytest.param(
            lambda k: hand_signed({"alg": "ES256", "kid": "rsa-1"}, CLAIMS, b"x" * 32),
            "alg/key",
            id="alg-key-mismatch",
        ),
        pytest.param(lambda k: k["rsa"].sign()[:-4] + "AAAA", "tampered signature", id="tampered"),
    ],
)
def test_jwks_refuses_bad_tokens_without_raising(
    make: t.Callable[[dict[str, Signer]], str], why: str, keys: dict[str, Signer]
) -> None:
    decode = jwks_decoder(jwks(keys["rsa"], keys["ec"]))
    assert decode(token=make(keys), secret=None) is None, why


@pytest.mark.parametrize("token", GARBAGE)
def test_jwks_refuses_garbage(token: t.Any, keys: dict[str, Signer]) -> None:
    assert jwks_decoder(jwks(keys["rsa"]))(token=token, secret=None) is None


def test_jwks_audience_issuer_and_leeway(keys: dict[str, Signer], _now: FrozenClock) -> None:
    signer = keys["ec"]
    decode = jwks_decoder(jwks(signer), audience="api", issuer="https://idp", leeway=30)
    assert decode(token=signer.sign({"aud": "api", "iss": "https://idp"}), secret=None) is not None
    assert decode(token=signer.sign({"aud": "web", "iss": "https://idp"}), secret=None) is None
    assert decode(token=signer.sign({"aud": "api", "iss": "https://evil"}), secret=None) is None
    assert decode(token=signer.sign({"aud": "api"}), secret=None) is None
    _now.now = CLAIMS["exp"] + 29
    assert decode(token=signer.sign({"aud": "api", "iss": "https://idp"}), secret=None) is not None
    _now.now = CLAIMS["exp"] + 30
    assert decode(token=signer.sign({"aud": "api", "iss": "https://idp"}), secret=None) is None


def test_jwks_other_algorithms_when_listed(keys: dict[str, Signer]) -> None:
    signer = keys["rsa"]
    jwk = {**signer.jwk, "alg": "PS256"}
    decode = jwks_decoder({"keys": [jwk]}, algorithms=["PS256", "RS256"])
    assert decode(token=signer.sign(alg="PS256"), secret=None) == CLAIMS
    assert decode(token=signer.sign(alg="RS256"), secret=None) is None  # the key says PS256
    # a key published for an algorithm outside the list does not widen it
    rs512 = {**signer.jwk, "alg": "RS512"}
    assert jwks_decoder({"keys": [rs512]})(token=signer.sign(alg="RS512"), secret=None) is None
    assert jwks_decoder({"keys": [rs512]}, algorithms=["RS512"])(token=signer.sign(alg="RS512"), secret=None)


@pytest.mark.parametrize(
    ("source", "kwargs", "names"),
    [
        pytest.param({"keys": []}, {}, "no usable signing key", id="empty-jwks"),
        pytest.param(
            {"keys": [{"kty": "oct", "k": b64(b"k" * 32)}]}, {}, "no usable signing key", id="only-hmac"
        ),
        pytest.param({"keys": [{"kty": "RSA", "n": "x"}]}, {}, "no usable signing key", id="broken-rsa"),
        pytest.param({"nokeys": 1}, {}, "no usable signing key", id="not-a-jwks"),
        pytest.param("ftp://idp/jwks.json", {}, "http", id="ftp-url"),
        pytest.param("file:///etc/passwd", {}, "http", id="file-url"),
        pytest.param("jwks.json", {}, "http", id="relative-url"),
        pytest.param(["not", "a", "jwks"], {}, "JWKS URL or a JWKS dict", id="list"),
        pytest.param("https://idp/jwks", {"algorithms": ["HS256"]}, "HS256", id="hs256"),
        pytest.param("https://idp/jwks", {"algorithms": ["none"]}, "none", id="none"),
        pytest.param("https://idp/jwks", {"algorithms": "RS256"}, "algorithms", id="algorithms-string"),
        pytest.param("https://idp/jwks", {"algorithms": []}, "algorithms", id="algorithms-empty"),
        pytest.param("https://idp/jwks", {"cache_seconds": -1}, "cache_seconds", id="cache-negative"),
        pytest.param("https://idp/jwks", {"timeout": "5"}, "timeout", id="timeout-string"),
        pytest.param("https://idp/jwks", {"leeway": -1}, "leeway", id="leeway"),
    ],
)
def test_jwks_bad_arguments_fail_at_construction(source: t.Any, kwargs: dict[str, t.Any], names: str) -> None:
    with pytest.raises(ConfigurationError, match=names):
        jwks_decoder(source, **kwargs)


def test_jwks_skips_encryption_keys(keys: dict[str, Signer]) -> None:
    enc = {**keys["rsa"].jwk, "use": "enc"}
    with pytest.raises(ConfigurationError):
        jwks_decoder({"keys": [enc]})
    decode = jwks_decoder({"keys": [enc, keys["ec"].jwk]})
    assert decode(token=keys["rsa"].sign(), secret=None) is None
    assert decode(token=keys["ec"].sign(), secret=None) == CLAIMS


def test_jwks_hook_in_with_auth(keys: dict[str, Signer]) -> None:
    app = with_auth(
        _who, {"secret": "unused-by-the-hook", "jwt": {"decode": jwks_decoder(jwks(keys["rsa"]))}}
    )
    assert Client(app).get("/x", headers={"Authorization": f"Bearer {keys['rsa'].sign()}"}).data == b"u1"
    refused = Client(app).get("/x", headers={"Authorization": f"Bearer {keys['rsa_other'].sign()}"})
    assert refused.status_code == 401


# --------------------------------------------------------------------------- jwks_decoder (URL)


class JWKSServer:
    """A JWKS endpoint on 127.0.0.1 whose answer the test changes; it counts the fetches."""

    def __init__(self) -> None:
        self.body: t.Any = {"keys": []}
        self.status = 200
        self.fetches = 0
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                with server.lock:
                    server.fetches += 1
                    status, body = server.status, server.body
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: t.Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> t.Iterator[JWKSServer]:
    srv = JWKSServer()
    yield srv
    srv.close()


def test_jwks_url_fetched_once_and_cached(
    server: JWKSServer, keys: dict[str, Signer], _now: FrozenClock
) -> None:
    server.body = jwks(keys["rsa"], keys["ec"])
    decode = jwks_decoder(server.url, cache_seconds=300)
    assert server.fetches == 0  # lazy: nothing at construction
    for _ in range(20):
        assert decode(token=keys["rsa"].sign(), secret=None) == CLAIMS
        assert decode(token=keys["ec"].sign(), secret=None) == CLAIMS
    assert server.fetches == 1
    _now.now = NOW + 299
    decode(token=keys["rsa"].sign({"exp": NOW + 9999}), secret=None)
    assert server.fetches == 1
    _now.now = NOW + 300  # the cache has expired
    assert decode(token=keys["rsa"].sign({"exp": NOW + 9999}), secret=None) is not None
    assert server.fetches == 2


def test_jwks_url_unknown_kid_refetches_at_most_once_per_interval(
    server: JWKSServer, keys: dict[str, Signer], _now: FrozenClock
) -> None:
    server.body = jwks(keys["rsa"])
    decode = jwks_decoder(server.url)
    assert decode(token=keys["rsa"].sign(), secret=None) is not None
    assert server.fetches == 1
    # made-up key ids must not turn every request into a request to the issuer
    for i in range(50):
        assert decode(token=keys["rsa"].sign(kid=f"random-{i}"), secret=None) is None
    assert server.fetches == 1  # fetched a moment ago
    # the issuer rotates: a token with the new kid is accepted once the interval allows a refetch
    server.body = jwks(keys["rsa_new"], keys["rsa"])
    assert decode(token=keys["rsa_new"].sign(), secret=None) is None
    _now.now = NOW + MIN_REFETCH_SECONDS
    assert decode(token=keys["rsa_new"].sign(), secret=None) == CLAIMS
    assert server.fetches == 2
    for i in range(50):
        decode(token=keys["rsa"].sign(kid=f"random-again-{i}"), secret=None)
    assert server.fetches == 2


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(500, {"error": "boom"}, id="http-500"),
        pytest.param(200, b"<html>not json</html>", id="not-json"),
        pytest.param(200, [1, 2, 3], id="json-array"),
        pytest.param(200, {"keys": []}, id="no-keys"),
    ],
)
def test_jwks_url_failures_keep_the_known_keys(
    server: JWKSServer,
    keys: dict[str, Signer],
    _now: FrozenClock,
    status: int,
    body: t.Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.body = jwks(keys["rsa"])
    decode = jwks_decoder(server.url, cache_seconds=60)
    token = keys["rsa"].sign({"exp": NOW + 9999})
    assert decode(token=token, secret=None) is not None
    server.status, server.body = status, body
    _now.now = NOW + 60
    with caplog.at_level(logging.WARNING, logger="flask_authguard"):
        assert decode(token=token, secret=None) == {**CLAIMS, "exp": NOW + 9999}  # stale keys serve
    assert server.fetches == 2
    assert "could not fetch" in caplog.text
    # and the failing issuer is not asked again on every request
    for _ in range(10):
        decode(token=token, secret=None)
    assert server.fetches == 2


def test_jwks_url_unreachable_is_no_token(keys: dict[str, Signer], _now: FrozenClock) -> None:
    srv = JWKSServer()
    url = srv.url
    srv.close()  # nothing listens there any more
    decode = jwks_decoder(url, timeout=2)
    assert decode(token=keys["rsa"].sign(), secret=None) is None
    assert decode(token=keys["rsa"].sign(), secret=None) is None  # backs off, no exception


def test_jwks_url_first_use_from_many_threads_fetches_once(
    server: JWKSServer, keys: dict[str, Signer]
) -> None:
    server.body = jwks(keys["rsa"], keys["ec"])
    decode = jwks_decoder(server.url)
    tokens = [keys["rsa"].sign(), keys["ec"].sign(), keys["rsa_other"].sign(), "garbage"] * 50
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda tok: decode(token=tok, secret=None), tokens))
    assert results == [CLAIMS, CLAIMS, None, None] * 50
    assert server.fetches == 1


def test_jwks_cache_seconds_zero_fetches_every_time(server: JWKSServer, keys: dict[str, Signer]) -> None:
    server.body = jwks(keys["rsa"])
    decode = jwks_decoder(server.url, cache_seconds=0)
    for _ in range(3):
        assert decode(token=keys["rsa"].sign(), secret=None) is not None
    assert server.fetches == 3


def test_hooks_module_does_not_import_flask() -> None:
    import ast
    import pathlib

    import flask_authguard.core.tokens.hooks as hooks

    tree = ast.parse(pathlib.Path(hooks.__file__).read_text(encoding="utf-8"))
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not [m for m in modules if m.split(".")[0] == "flask"]
