"""Shared fixtures: recorded next-auth cases, a frozen clock, a token factory."""

from __future__ import annotations

import json
import pathlib
import typing as t

import pytest
from support import missing

from flask_authguard import encode
from flask_authguard.core import _clock
from flask_authguard.core.defences.store import forget_memory_stores

#: Fixture modules beside this file (the real next-auth under node, the local OIDC provider):
#: declared here, once, since pytest reads ``pytest_plugins`` only from the root conftest.
pytest_plugins = ["support.nodejs", "support.oidc_server"]

DATA = pathlib.Path(__file__).parent / "data"


def load_vectors(name: str) -> t.Any:
    """A recorded next-auth file from ``tests/data`` (copied from the shared vectors)."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


class FrozenClock:
    """A clock tests set by hand; ``flask_authguard.core._clock.now`` reads it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    clock = FrozenClock(1_700_000_000)
    monkeypatch.setattr(_clock, "now", clock)
    return clock


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start with none of next-auth's environment variables set."""
    # FLASK_RUN_FROM_CLI: Flask's CLI (run by the CLI tests) sets it process-wide, and it would
    # silence app.run() in the example apps other tests start as subprocesses.
    names = ("NEXTAUTH_SECRET", "AUTH_SECRET", "NEXTAUTH_URL", "AUTH_URL", "VERCEL", "AUTH_TRUST_HOST")
    rotation = ("AUTH_SECRET_1", "AUTH_SECRET_2", "AUTH_SECRET_3")
    # OAuth client ids and secrets, v4's <ID>_ID and v5's AUTH_<ID>_ID, for the presets and test providers
    stems = ("GITHUB", "GOOGLE", "GITLAB", "DISCORD", "MICROSOFT_ENTRA_ID", "CORP", "ACME", "OIDC", "C", "X")
    clients = [f"{v5}{stem}_{part}" for stem in stems for v5 in ("", "AUTH_") for part in ("ID", "SECRET")]
    for name in (*names, *rotation, *clients, "FLASK_RUN_FROM_CLI"):
        monkeypatch.delenv(name, raising=False)
    # each test stands for a process of its own: the memory:// store is the process's
    forget_memory_stores()


SECRET = "test-secret-0123456789abcdef0123456789abcdef"


@pytest.fixture
def make_token() -> t.Callable[..., str]:
    """``make_token(sub="u1", role="admin", max_age=3600, version=4, secret=SECRET)``."""

    def factory(
        *, secret: str = SECRET, max_age: int = 3600, version: int = 4, salt: str = "", **claims: t.Any
    ) -> str:
        return encode(token=claims, secret=secret, max_age=max_age, version=version, salt=salt)

    return factory


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every JWE decode of the test (the default codec's verified read, a cache hit included),
    wherever it is called from: the general read and the guard's."""
    from flask_authguard.core.tokens import jwt, request_token
    from flask_authguard.sessions import jwt as jwt_sessions

    seen: list[str] = []
    real = jwt.verified_claims

    def counting(token: str, *args: t.Any) -> t.Any:
        seen.append(token)
        return real(token, *args)

    for module in (request_token, jwt_sessions):
        monkeypatch.setattr(module, "verified_claims", counting)
    return seen


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_store() -> t.Iterator[dict[str, str]]:
    """Options for the Redis store (``store``, and a ``store_prefix`` of this test only, whose
    keys are deleted afterwards). Skips without a Redis on 127.0.0.1:6379 (fails under
    ``CI=true``: CI starts one)."""
    import uuid

    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
        client.ping()
    except Exception as exc:
        reason = f"no Redis on 127.0.0.1:6379 ({type(exc).__name__}); install redis-server to run this test"
        missing(reason)
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    yield {"store": REDIS_URL, "store_prefix": prefix}
    for key in client.scan_iter(match=f"*{prefix}*", count=500):
        client.delete(key)
    client.close()


def rolled_claims(set_cookies: list[str], secret: str) -> dict[str, t.Any]:
    """The claims of the session cookie in the first ``Set-Cookie`` value (a rolled cookie)."""
    from flask_authguard.core.tokens import jwt as jwt_mod

    value = set_cookies[0].split(";", 1)[0].split("=", 1)[1]
    return jwt_mod.decode(token=value, secret=secret) or {}
