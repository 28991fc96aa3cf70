"""``python -m flask_authguard`` and ``flask authguard``: ``secret`` and ``decode``."""

from __future__ import annotations

import base64
import configparser
import importlib
import json
import os
import subprocess
import sys
import typing as t

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import FlaskGroup
from support import ROOT

from flask_authguard import encode
from flask_authguard.core.http.cookies import chunk
from flask_authguard.core.settings.config import resolve_options
from flask_authguard.core.settings.options import CHUNK_SIZES
from flask_authguard.flask import cli

SECRET = "cli-test-secret-0123456789abcdef0123456789abcdef"
OTHER = "some-other-secret-fedcba9876543210fedcba98765432"
NOW = 1_700_000_000
V5_PLAIN, V5_SECURE = "authjs.session-token", "__Secure-authjs.session-token"


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2
    except TypeError:
        return CliRunner()


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    result = _runner().invoke(cli.authguard_group, list(args), input=input, env=env, catch_exceptions=False)
    assert SECRET not in result.stdout + result.stderr, "the secret must never be printed"
    return result


def decode_ok(*args: str, **kwargs: t.Any) -> dict[str, t.Any]:
    result = run("decode", *args, **kwargs)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def decode_fails(*args: str, **kwargs: t.Any) -> str:
    """stderr of a decode that exits 1 (a token refused), with nothing on stdout."""
    result = run("decode", *args, **kwargs)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    return result.stderr


@pytest.fixture(autouse=True)
def _frozen(frozen_clock: t.Any) -> t.Any:
    frozen_clock.now = NOW
    return frozen_clock


def v4(secret: str = SECRET, **claims: t.Any) -> str:
    return encode(token={"sub": "user-1", **claims}, secret=secret, max_age=3600)


def v5(salt: str = V5_PLAIN, secret: str | list[str] = SECRET, **claims: t.Any) -> str:
    return encode(token={"sub": "user-1", **claims}, secret=secret, salt=salt, version=5, max_age=3600)


# -- secret -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "decoder", "length"),
    [
        pytest.param((), base64.b64decode, 32, id="base64-default"),
        pytest.param(("--format", "hex"), bytes.fromhex, 32, id="hex"),
        pytest.param(
            ("--format", "base64url"),
            lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)),
            32,
            id="base64url",
        ),
        pytest.param(("--bytes", "64"), base64.b64decode, 64, id="64-bytes"),
    ],
)
def test_secret(args: tuple[str, ...], decoder: t.Callable[[str], bytes], length: int) -> None:
    first, second = run("secret", *args), run("secret", *args)
    assert first.exit_code == 0
    value = first.stdout.strip()
    assert first.stdout == value + "\n"
    assert len(decoder(value)) == length
    assert value != second.stdout.strip()
    if args == ():
        assert len(value) == 44 and value.endswith("=")  # `openssl rand -base64 32` shape


def test_secret_rejects_too_few_bytes() -> None:
    assert run("secret", "--bytes", "8").exit_code == 2


def test_new_secret_formats() -> None:
    assert len(cli.new_secret(16, "hex")) == 32
    assert "=" not in cli.new_secret(32, "base64url")
    with pytest.raises(ValueError):
        cli.new_secret(32, "base32")


# -- decode: accepted tokens ------------------------------------------------------------------


def test_decode_v4_with_secret_option() -> None:
    claims = decode_ok(v4(name="Zoë 山田 🙂"), "--secret", SECRET)
    assert claims["sub"] == "user-1" and claims["name"] == "Zoë 山田 🙂"
    assert claims["exp"] == NOW + 3600 and claims["iat"] == NOW


@pytest.mark.parametrize("variable", ["NEXTAUTH_SECRET", "AUTH_SECRET"])
def test_decode_secret_from_environment(variable: str) -> None:
    assert decode_ok(v4(), env={variable: SECRET})["sub"] == "user-1"


def test_decode_rotated_secrets() -> None:
    assert decode_ok(v4(secret=OTHER), "--secret", SECRET, "--secret", OTHER)["sub"] == "user-1"
    assert decode_ok(v5(secret=OTHER), "--secret", SECRET, "--secret", OTHER)["sub"] == "user-1"


@pytest.mark.parametrize("salt", [V5_PLAIN, V5_SECURE])
def test_decode_v5_detected_from_header(salt: str) -> None:
    """The header says v5; both default cookie names are tried as salt."""
    assert decode_ok(v5(salt), "--secret", SECRET)["sub"] == "user-1"
    assert decode_ok(v5(salt), "--secret", SECRET, "--version", "5", "--salt", salt)["sub"] == "user-1"


def test_decode_v5_custom_cookie_name_with_salt() -> None:
    assert decode_ok(v5("my.session"), "--secret", SECRET, "--salt", "my.session")["sub"] == "user-1"


def test_decode_reads_standard_input() -> None:
    assert decode_ok("-", "--secret", SECRET, input=v4() + "\n")["sub"] == "user-1"
    assert decode_ok("--secret", SECRET, input=v4())["sub"] == "user-1"


def test_decode_accepts_bearer_and_pasted_cookies() -> None:
    token = v4(blob="x" * 5000)
    spec = resolve_options({"secret": SECRET}).session_cookie(False)
    set_cookies = chunk(spec, token, existing=[], chunk_size=CHUNK_SIZES[4])
    assert len(set_cookies) == 2
    header = "Cookie: theme=dark; " + "; ".join(h.split(";", 1)[0] for h in reversed(set_cookies))
    assert decode_ok(header, "--secret", SECRET)["blob"] == "x" * 5000
    assert decode_ok(f"Bearer {v4()}", "--secret", SECRET)["sub"] == "user-1"
    # The pasted cookie's name is the v5 salt.
    assert decode_ok(f"my.session={v5('my.session')}", "--secret", SECRET)["sub"] == "user-1"


# -- decode: each cause of a refusal ----------------------------------------------------------


def test_v5_token_read_as_v4() -> None:
    stderr = decode_fails(v5(), "--secret", SECRET, "--version", "4")
    assert "Auth.js v5 token" in stderr and "read as a next-auth v4" in stderr and "--version 5" in stderr


def test_v4_token_read_as_v5() -> None:
    stderr = decode_fails(v4(), "--secret", SECRET, "--version", "5")
    assert "next-auth v4 token read as Auth.js v5" in stderr and "--version 4" in stderr


def test_v5_salt_mismatch_names_the_cookie() -> None:
    stderr = decode_fails(v5(V5_SECURE), "--secret", SECRET, "--salt", V5_PLAIN)
    assert "salt mismatch" in stderr and f"--salt {V5_SECURE}" in stderr


def test_v5_unknown_cookie_name_or_wrong_secret() -> None:
    stderr = decode_fails(v5("my.session"), "--secret", SECRET)
    assert "wrong secret" in stderr and "--salt <cookie name>" in stderr


def test_v4_salted_token_names_the_salt() -> None:
    token = encode(token={"sub": "1"}, secret=SECRET, salt="next-auth.state", max_age=900)
    stderr = decode_fails(token, "--secret", SECRET)
    assert "salt mismatch" in stderr and "--salt next-auth.state" in stderr
    assert decode_ok(token, "--secret", SECRET, "--salt", "next-auth.state")["sub"] == "1"


def test_v4_session_token_with_a_salt() -> None:
    stderr = decode_fails(v4(), "--secret", SECRET, "--salt", "next-auth.session-token")
    assert "salt mismatch" in stderr and "drop --salt" in stderr


@pytest.mark.parametrize("make", [v4, v5], ids=["v4", "v5"])
def test_wrong_secret(make: t.Callable[..., str]) -> None:
    stderr = decode_fails(make(), "--secret", OTHER)
    assert "wrong secret" in stderr


def test_altered_token() -> None:
    header, key, iv, ciphertext, tag = v4().split(".")
    flipped = ("B" if ciphertext[0] == "A" else "A") + ciphertext[1:]
    stderr = decode_fails(".".join((header, key, iv, flipped, tag)), "--secret", SECRET)
    assert "wrong secret" in stderr and "altered" in stderr


def test_expired_says_when(_frozen: t.Any) -> None:
    token = v4()
    _frozen.now = NOW + 3600 + 2 * 3600
    stderr = decode_fails(token, "--secret", SECRET)
    assert "token expired at 2023-11-14 23:13:20 UTC (2 hours ago" in stderr
    _frozen.now = NOW + 3600 + 14  # within next-auth's 15 s of skew
    assert decode_ok(token, "--secret", SECRET)["sub"] == "user-1"


def test_expired_v5(_frozen: t.Any) -> None:
    token = v5(V5_SECURE)
    _frozen.now = NOW + 3 * 86400
    assert "token expired at 2023-11-14 23:13:20 UTC (2 days ago" in decode_fails(token, "--secret", SECRET)


def test_not_valid_yet() -> None:
    stderr = decode_fails(v4(nbf=NOW + 600), "--secret", SECRET)
    assert "not valid yet" in stderr and "2023-11-14 22:23:20 UTC" in stderr


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param("garbage", "five dot-separated segments, this has 1", id="one-segment"),
        pytest.param(
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            "signed JWT (JWS, alg HS256)",
            id="jws",
        ),
        pytest.param("a.b.c.d.e", "header is not base64url-encoded JSON", id="bad-header"),
        pytest.param(
            "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d", "neither next-auth v4's", id="other-alg"
        ),
        pytest.param(
            "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..QdGs!.x.y",
            "malformed token: segment is not base64url",
            id="bad-iv",
        ),
    ],
)
def test_malformed(token: str, expected: str) -> None:
    stderr = decode_fails(token, "--secret", SECRET)
    assert "malformed token" in stderr and expected in stderr


def test_truncated_token() -> None:
    stderr = decode_fails(v4()[:-3], "--secret", SECRET)
    assert "malformed token" in stderr and "cut short or altered" in stderr


# -- decode: usage errors (exit 2) ------------------------------------------------------------


@pytest.mark.parametrize("env", [{}, {"NEXTAUTH_SECRET": ""}], ids=["unset", "empty"])
def test_missing_secret(env: dict[str, str]) -> None:
    result = run("decode", v4(), env=env)
    assert result.exit_code == 2
    assert "set NEXTAUTH_SECRET" in result.stderr and "--secret" in result.stderr


@pytest.mark.parametrize(
    "args",
    [("decode", "--version", "6", "x"), ("decode", "--bogus"), ("nope",)],
    ids=["version", "option", "cmd"],
)
def test_usage_errors(args: tuple[str, ...]) -> None:
    assert run(*args).exit_code == 2


def test_no_token_on_standard_input() -> None:
    result = run("decode", "--secret", SECRET, input="")
    assert result.exit_code == 2 and "no token" in result.stderr


# -- as Flask commands ------------------------------------------------------------------------


def test_entry_point_declared_in_setup_cfg() -> None:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    entry = setup["options.entry_points"]["flask.commands"].strip()
    name, _, target = (part.strip() for part in entry.partition("="))
    module, _, attr = target.partition(":")
    assert name == "authguard"
    group = getattr(importlib.import_module(module), attr)
    assert group is cli.authguard_group and group.name == "authguard"


def test_flask_authguard_commands() -> None:
    flask_cli = FlaskGroup(create_app=lambda: Flask("cli_test"))
    flask_cli.add_command(cli.authguard_group)
    runner = _runner()
    secret = runner.invoke(flask_cli, ["authguard", "secret"], catch_exceptions=False)
    assert secret.exit_code == 0 and len(base64.b64decode(secret.stdout.strip())) == 32
    ok = runner.invoke(flask_cli, ["authguard", "decode", v4(), "--secret", SECRET], catch_exceptions=False)
    assert ok.exit_code == 0 and json.loads(ok.stdout)["sub"] == "user-1"
    refused = runner.invoke(flask_cli, ["authguard", "decode", v5(), "--secret", SECRET, "--version", "4"])
    assert refused.exit_code == 1 and "--version 5" in refused.stderr
    missing = runner.invoke(flask_cli, ["authguard", "decode", v4()])
    assert missing.exit_code == 2 and "NEXTAUTH_SECRET" in missing.stderr


def test_flask_authguard_decode_uses_the_apps_secret() -> None:
    from flask_authguard import AuthGuard

    def create_app() -> Flask:
        app = Flask("cli_guarded")
        AuthGuard(app, {"secret": SECRET, "endpoints": False})
        return app

    flask_cli = FlaskGroup(create_app=create_app)
    flask_cli.add_command(cli.authguard_group)
    result = _runner().invoke(flask_cli, ["authguard", "decode", v4()], catch_exceptions=False)
    assert result.exit_code == 0 and json.loads(result.stdout)["sub"] == "user-1"
    assert SECRET not in result.stdout + result.stderr


def test_an_app_that_does_not_load_is_named_not_blamed_on_the_secret() -> None:
    """An app whose start-up fails (its database is down) used to read as "no secret": the
    warning names the failure by its type only (its message may hold a database password)."""

    def create_app() -> Flask:
        raise ConnectionRefusedError("postgresql://admin:hunter2@db.internal/app refused")

    flask_cli = FlaskGroup(create_app=create_app)
    flask_cli.add_command(cli.authguard_group)
    result = _runner().invoke(flask_cli, ["authguard", "decode", v4()])
    assert result.exit_code == 2 and "NEXTAUTH_SECRET" in result.stderr
    assert "the app did not load (ConnectionRefusedError)" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr


# -- python -m flask_authguard ----------------------------------------------------------------


def python_m(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("NEXTAUTH_", "AUTH_"))}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
    environ["PYTHONIOENCODING"] = "utf-8"
    environ.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "flask_authguard", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=environ,
        cwd=ROOT,
        timeout=60,
    )
    assert SECRET not in proc.stdout + proc.stderr
    return proc


def test_python_m_secret() -> None:
    proc = python_m("secret")
    assert proc.returncode == 0 and len(base64.b64decode(proc.stdout.strip())) == 32


def test_python_m_decode() -> None:
    # Tokens are made under the frozen clock (2023); the subprocess runs on the real one.
    fresh = encode(token={"sub": "user-1", "name": "Zoë"}, secret=SECRET, max_age=10**9)
    proc = python_m("decode", fresh, env={"NEXTAUTH_SECRET": SECRET})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["name"] == "Zoë"
    proc = python_m("decode", "-", env={"AUTH_SECRET": SECRET}, stdin=fresh)
    assert proc.returncode == 0 and json.loads(proc.stdout)["sub"] == "user-1"


def test_python_m_expired() -> None:
    proc = python_m("decode", v4(), "--secret", SECRET)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Error: token expired at 2023-11-14 23:13:20 UTC" in proc.stderr


def test_python_m_errors() -> None:
    fresh = encode(token={"sub": "1"}, secret=SECRET, max_age=10**9)
    wrong = python_m("decode", fresh, "--secret", OTHER)
    assert wrong.returncode == 1 and "wrong secret" in wrong.stderr and wrong.stdout == ""
    missing = python_m("decode", fresh)
    assert missing.returncode == 2 and "set NEXTAUTH_SECRET" in missing.stderr
    usage = python_m("decode", "--version", "3", fresh)
    assert usage.returncode == 2 and "python -m flask_authguard decode" in usage.stderr
