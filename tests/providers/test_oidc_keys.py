"""The issuer's JWKS in ``OIDCProvider`` (``flask_authguard/providers/oidc.py``): kept for
``JWKS_TTL`` seconds, so a key the issuer withdrew stops being trusted, and read again (at most every
``JWKS_REFRESH_INTERVAL`` seconds) when an ID token's signature does not verify, so new key material
under a key id already known, or keys without ``kid``, sign in without a restart.

The issuer is a small OpenID Connect provider on loopback (the Node.js one of the other OIDC tests
always names its keys by fresh ids); its ID tokens carry the frozen clock's time.
"""

from __future__ import annotations

import json
import threading
import typing as t
from urllib.parse import urlencode

import pytest
from conftest import FrozenClock
from joserfc import jwt
from joserfc.jwk import RSAKey
from support.handler_app import client_of, make_app
from support.oauth_app import BASE, refused
from support.oauth_flow import sign_in
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from flask_authguard import OIDCProvider
from flask_authguard.providers.oidc import JWKS_REFRESH_INTERVAL, JWKS_TTL


def rsa_key(kid: str | None) -> RSAKey:
    parameters: dict[str, t.Any] = {"use": "sig", "alg": "RS256"}
    if kid is not None:
        parameters["kid"] = kid
    return RSAKey.generate_key(2048, parameters=parameters, private=True)  # type: ignore[arg-type]


class Issuer:
    """Discovery, JWKS, authorization and token endpoints. ``published`` is the JWKS it serves;
    ``signing`` the key its ID tokens are signed with, named in their header by ``kid`` (none:
    no ``kid`` header)."""

    def __init__(self, clock: FrozenClock) -> None:
        self.clock = clock
        self.signing = rsa_key("k1")
        self.kid: str | None = "k1"
        self.published = [self.signing]
        self.jwks_reads = 0
        self.nonces: dict[str, str] = {}
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def use(self, key: RSAKey, kid: str | None) -> None:
        """Sign with ``key`` (header ``kid``) and publish only it: a rotation."""
        self.signing, self.kid, self.published = key, kid, [key]

    def id_token(self, nonce: str) -> str:
        now = int(self.clock.now)
        claims = {"iss": self.url, "aud": "client-1", "sub": "sub-1", "iat": now, "exp": now + 300}
        header = {"alg": "RS256", **({"kid": self.kid} if self.kid is not None else {})}
        return jwt.encode(header, {**claims, "nonce": nonce}, self.signing, algorithms=["RS256"])

    @Request.application  # type: ignore[arg-type]
    def app(self, request: Request) -> Response:
        if request.path == "/.well-known/openid-configuration":
            return self.json(
                {
                    "issuer": self.url,
                    "authorization_endpoint": f"{self.url}/authorize",
                    "token_endpoint": f"{self.url}/token",
                    "jwks_uri": f"{self.url}/jwks",
                    "id_token_signing_alg_values_supported": ["RS256"],
                }
            )
        if request.path == "/jwks":
            self.jwks_reads += 1
            return self.json({"keys": [key.as_dict(private=False) for key in self.published]})
        if request.path == "/authorize":
            code = f"code-{len(self.nonces)}"
            self.nonces[code] = request.args["nonce"]
            query = urlencode({"code": code, "state": request.args["state"]})
            return Response(status=302, headers={"Location": f"{request.args['redirect_uri']}?{query}"})
        if request.path == "/token":
            nonce = self.nonces.pop(request.form["code"])
            return self.json({"access_token": "at", "token_type": "Bearer", "id_token": self.id_token(nonce)})
        return Response(status=404)

    @staticmethod
    def json(body: t.Any) -> Response:
        return Response(json.dumps(body), mimetype="application/json")


@pytest.fixture
def issuer(frozen_clock: FrozenClock) -> t.Iterator[Issuer]:
    server = Issuer(frozen_clock)
    yield server
    server.server.shutdown()


def signs_in(app: t.Any) -> bool:
    """A whole sign-in in a fresh browser: whether it ended signed in."""
    response = sign_in(client_of(app), "corp")
    if response.headers["Location"] == f"{BASE}/private":
        return True
    refused(response, "OAuthCallback")
    return False


def app_of(issuer: Issuer) -> t.Any:
    provider = OIDCProvider(
        id="corp", name="Corp", issuer=issuer.url, client_id="client-1", client_secret="client-secret-1"
    )
    return make_app(providers=[provider])


def test_a_withdrawn_key_is_trusted_no_longer_than_the_ttl(issuer: Issuer, frozen_clock: FrozenClock) -> None:
    """The issuer withdraws ``k1`` (compromised) and publishes ``k2``: tokens signed with ``k1``
    are refused once the cached JWKS is ``JWKS_TTL`` seconds old."""
    app = app_of(issuer)
    assert signs_in(app)
    old = issuer.signing
    issuer.published = [rsa_key("k2")]  # still signing with k1: what its thief would do
    assert signs_in(app)  # the cached set still holds k1
    frozen_clock.now += JWKS_TTL - 1
    assert signs_in(app)
    frozen_clock.now += 2
    assert not signs_in(app)
    issuer.use(issuer.published[0], "k2")
    assert signs_in(app)
    issuer.signing, issuer.kid = old, "k1"
    assert not signs_in(app)


@pytest.mark.parametrize("kid", [pytest.param("k1", id="same-kid"), pytest.param(None, id="no-kid")])
def test_new_key_material_signs_in_after_one_re_read(issuer: Issuer, kid: str | None) -> None:
    """A rotation to a new key under the key id the cached set already holds (or keys without
    ``kid``): the first token fails its signature, the JWKS is read once more, and it verifies."""
    issuer.use(rsa_key(kid), kid)
    app = app_of(issuer)
    assert signs_in(app)
    assert issuer.jwks_reads == 1
    issuer.use(rsa_key(kid), kid)
    assert signs_in(app)
    assert issuer.jwks_reads == 2
    assert signs_in(app)
    assert issuer.jwks_reads == 2  # the new set is kept


def test_bad_signatures_re_read_the_jwks_at_most_every_interval(
    issuer: Issuer, frozen_clock: FrozenClock
) -> None:
    """Tokens whose signature no published key verifies are refused, and read the JWKS at most
    once every ``JWKS_REFRESH_INTERVAL`` seconds (a stream of forged tokens is no stream of reads)."""
    app = app_of(issuer)
    assert signs_in(app)
    issuer.signing = rsa_key("k1")  # signed with a key the issuer never published
    assert not signs_in(app)
    assert not signs_in(app)
    assert issuer.jwks_reads == 2
    frozen_clock.now += JWKS_REFRESH_INTERVAL + 1
    assert not signs_in(app)
    assert issuer.jwks_reads == 3
