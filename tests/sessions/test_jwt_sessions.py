"""The JWT session strategy (:mod:`flask_authguard.sessions.jwt`): the rolled cookie."""

from __future__ import annotations

import typing as t

import pytest
from conftest import rolled_claims


def test_rolled_cookie_follows_a_jwt_callback_that_changes_a_type(monkeypatch: pytest.MonkeyPatch) -> None:
    """The incoming token stands for the claims only when the callback left them exactly as
    decoded: ``True`` turned into ``1`` (equal in Python) still encodes anew."""
    from flask_authguard.core import _clock
    from flask_authguard.core.settings.config import resolve_options
    from flask_authguard.core.tokens import jwt as jwt_mod
    from flask_authguard.sessions import read_session

    secret = "t" * 32
    as_number = [False]

    def jwt_callback(*, token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
        if as_number[0]:
            token["admin"] = 1
        return token

    config = resolve_options({"secret": secret, "callbacks": {"jwt": jwt_callback}})
    monkeypatch.setattr(_clock, "now", lambda: 1_700_000_000.25)
    token = jwt_mod.encode(token={"sub": "1", "admin": True}, secret=secret)
    environ = {"HTTP_COOKIE": f"next-auth.session-token={token}", "wsgi.url_scheme": "http"}
    first = read_session(dict(environ), config).set_cookies
    assert rolled_claims(first, secret)["admin"] is True
    as_number[0] = True  # the same cookie in the same second, the callback now gives 1
    second = read_session(dict(environ), config).set_cookies
    assert second != first
    claims = rolled_claims(second, secret)
    assert claims["admin"] == 1 and claims["admin"] is not True
