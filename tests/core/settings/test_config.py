"""Options resolved from the environment (``flask_authguard.core.settings.config``): next-auth v4's and
Auth.js v5's secret variables, with v5's rotation list ``AUTH_SECRET_1``..``_3``."""

from __future__ import annotations

import pytest
from werkzeug.test import create_environ

from flask_authguard import encode, get_token
from flask_authguard.core.settings.config import resolve_options


def secrets(monkeypatch: pytest.MonkeyPatch, version: int, **env: str) -> tuple[str, ...]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return resolve_options({"version": version}, warn_missing_secret=False).secrets


@pytest.mark.parametrize("version", [4, 5])
def test_auth_js_rotation_list(monkeypatch: pytest.MonkeyPatch, version: int) -> None:
    # @auth/core's order: each numbered secret goes in front of AUTH_SECRET, so the highest signs
    env = {"AUTH_SECRET": "s-old", "AUTH_SECRET_1": "s-1", "AUTH_SECRET_3": "s-3"}
    assert secrets(monkeypatch, version, **env) == ("s-3", "s-1", "s-old")


@pytest.mark.parametrize("version", [4, 5])
def test_numbered_secrets_without_auth_secret(monkeypatch: pytest.MonkeyPatch, version: int) -> None:
    assert secrets(monkeypatch, version, AUTH_SECRET_2="s-2", AUTH_SECRET_1="s-1") == ("s-2", "s-1")


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        pytest.param(4, ("v4",), id="v4-reads-NEXTAUTH_SECRET"),
        pytest.param(5, ("s-1", "v5"), id="v5-reads-AUTH"),
    ],
)
def test_the_versions_own_names_win_where_both_are_set(
    monkeypatch: pytest.MonkeyPatch, version: int, expected: tuple[str, ...]
) -> None:
    env = {"NEXTAUTH_SECRET": "v4", "AUTH_SECRET": "v5", "AUTH_SECRET_1": "s-1"}
    assert secrets(monkeypatch, version, **env) == expected


def test_each_version_falls_back_to_the_other_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert secrets(monkeypatch, 5, NEXTAUTH_SECRET="v4") == ("v4",)
    monkeypatch.delenv("NEXTAUTH_SECRET")
    assert secrets(monkeypatch, 4, AUTH_SECRET="v5") == ("v5",)


def test_a_set_but_empty_kind_means_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    assert secrets(monkeypatch, 4, NEXTAUTH_SECRET="", AUTH_SECRET_1="s-1") == ()
    assert secrets(monkeypatch, 5, AUTH_SECRET="", AUTH_SECRET_1="s-1") == ("s-1",)


def test_get_token_tries_every_rotated_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = "auth-secret-old-0123456789abcdef", "auth-secret-new-0123456789abcdef"
    monkeypatch.setenv("AUTH_SECRET", old)
    monkeypatch.setenv("AUTH_SECRET_1", new)
    for secret in (old, new):
        cookie = encode(token={"sub": secret[12:15]}, secret=secret, version=5, salt="authjs.session-token")
        environ = create_environ("/", headers={"Cookie": f"authjs.session-token={cookie}"})
        claims = get_token(environ, version=5)
        assert claims is not None and claims["sub"] == secret[12:15]
