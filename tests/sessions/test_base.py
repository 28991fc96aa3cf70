"""Helpers shared by the session strategies (:mod:`flask_authguard.sessions.base`)."""

from __future__ import annotations

from flask_authguard.sessions.base import default_session


def test_default_session_leaves_out_missing_claims_and_keeps_nulls() -> None:
    assert default_session({"sub": "x"}, "E") == {"user": {}, "expires": "E"}
    assert default_session({"name": None, "picture": "p"}, "E") == {
        "user": {"name": None, "image": "p"},
        "expires": "E",
    }
