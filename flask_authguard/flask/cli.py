"""Command line tools: make a secret, read a session token.

The same commands run as ``python -m flask_authguard`` and, through the ``flask.commands``
entry point, as ``flask authguard``:

.. code-block:: console

    $ python -m flask_authguard secret
    2sM0x4zZ2m5Q3rN9vF7bL1cA8dE6gH0jK4lP2oR5tU8=
    $ export NEXTAUTH_SECRET=...
    $ python -m flask_authguard decode eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..x.y.z
    $ flask authguard decode --version 5 --salt __Secure-authjs.session-token eyJ...

``decode`` prints the claims as JSON and exits 0; a token it cannot accept exits 1 with the
likely cause on stderr (a v5 token read as v4 or the reverse, a salt that is not the cookie's
name, a wrong secret, expiry, a malformed token); a usage error or a missing secret exits 2.
The secret is never printed.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import sys
import typing as t

import click
from werkzeug.http import parse_cookie

from ..core import _clock
from ..core.errors import ConfigurationError, InvalidTokenError, TokenError, TokenExpiredError
from ..core.http.cookies import session_values
from ..core.settings.config import secret_from_env
from ..core.tokens import jwt as _jwt

#: The session cookie names Auth.js v5 salts its keys with (plain and secure).
V5_SESSION_COOKIES = ("authjs.session-token", "__Secure-authjs.session-token")
#: The next-auth v4 cookies whose tokens are salted with the cookie name.
V4_SALTED_COOKIES = tuple(
    prefix + name
    for name in ("next-auth.state", "next-auth.pkce.code_verifier", "next-auth.nonce")
    for prefix in ("", "__Secure-")
)
_V4_ENC = "A256GCM"
_V5_ENC = "A256CBC-HS512"
_CHUNK_SUFFIX = re.compile(r"\.\d+$")
_NO_SECRET = "no secret: set NEXTAUTH_SECRET (or AUTH_SECRET), or pass --secret"


class TokenRejected(click.ClickException):
    """A token ``decode`` cannot accept: exit status 1, the cause on stderr."""

    exit_code = 1


def new_secret(nbytes: int = 32, fmt: str = "base64") -> str:
    """A random secret, as ``openssl rand -base64 32`` makes them.

    :param nbytes: how many random bytes.
    :param fmt: ``"base64"`` (padded, like openssl), ``"base64url"`` (unpadded) or ``"hex"``.
    """
    data = os.urandom(nbytes)
    if fmt == "hex":
        return data.hex()
    if fmt == "base64url":
        return _jwt.b64url_encode(data)
    if fmt == "base64":
        return base64.b64encode(data).decode("ascii")
    raise ValueError(f"unknown secret format {fmt!r}")


# -- reading a token --------------------------------------------------------------------------


def _split_input(text: str) -> tuple[str, str | None]:
    """The token, and the cookie name when cookies (``name=value; ...``, chunks joined) or a
    Bearer header were pasted instead of the bare token."""
    text = text.strip()
    if text.startswith("Bearer "):
        return text[len("Bearer ") :].strip(), None
    if text[:7].lower() == "cookie:":
        text = text[7:].strip()
    if "=" not in text:  # a JWE never holds "="
        return text, None
    cookies = parse_cookie(text)
    names = list(dict.fromkeys(_CHUNK_SUFFIX.sub("", name) for name in cookies))
    name = next((n for n in names if "session-token" in n), names[0] if names else "")
    values = session_values(cookies, name) if name else []
    return (values[0] if values else ""), name or None


def read_header(token: str) -> dict[str, t.Any]:
    """The protected header of a compact JWE.

    :raises TokenRejected: not a compact JWE; the message says what it looks like instead.
    """
    parts = token.split(".")
    header: t.Any = None
    try:
        header = json.loads(_jwt.b64url_decode(parts[0]).decode("utf-8"))
    except (TokenError, ValueError, RecursionError):
        pass
    if len(parts) == 3 and isinstance(header, dict) and "alg" in header:
        raise TokenRejected(
            f"malformed token: this is a signed JWT (JWS, alg {header['alg']}), not an encrypted "
            "next-auth session token (a JWE of five segments); tokens from another issuer need "
            "a custom jwt.decode"
        )
    if len(parts) != 5:
        raise TokenRejected(
            "malformed token: a next-auth session token is a compact JWE of five dot-separated "
            f"segments, this has {len(parts)}"
        )
    if not isinstance(header, dict):
        raise TokenRejected("malformed token: its header is not base64url-encoded JSON")
    return header


def header_version(header: t.Mapping[str, t.Any]) -> int | None:
    """4 for next-auth's ``A256GCM`` header, 5 for Auth.js's (``A256CBC-HS512`` or a ``kid``)."""
    if header.get("alg") != "dir":
        return None
    if header.get("enc") == _V5_ENC or "kid" in header:
        return 5
    if header.get("enc") == _V4_ENC:
        return 4
    return None


def _open(token: str, secrets: tuple[str, ...], salt: str, version: int) -> dict[str, t.Any] | None:
    """The claims if one of the keys decrypts the token, without checking them; else ``None``."""
    try:
        return _jwt.decrypt(token=token, secret=list(secrets), salt=salt, version=version)
    except (TokenError, ConfigurationError):
        return None


def _when(timestamp: t.Any) -> str:
    try:
        moment = dt.datetime.fromtimestamp(float(timestamp), dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return repr(timestamp)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    seconds = int(abs(seconds))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _expired_message(claims: dict[str, t.Any] | None) -> str:
    exp = (claims or {}).get("exp")
    if not isinstance(exp, (int, float)):
        return "token expired"
    ago = _duration(_clock.now() - exp)
    return f"token expired at {_when(exp)} ({ago} ago; {_jwt.CLOCK_TOLERANCE} s of clock skew are allowed)"


def _kid_owner(kid: str, secrets: tuple[str, ...], salts: t.Iterable[str]) -> str | None:
    """The salt under which one of the secrets gives the key named by ``kid``."""
    for salt in dict.fromkeys(salts):
        for secret in secrets:
            for length in (64, 32):
                if _jwt.key_thumbprint(_jwt.derive_key(secret, salt, version=5, length=length)) == kid:
                    return salt
    return None


def diagnose(
    token: str,
    header: t.Mapping[str, t.Any],
    secrets: tuple[str, ...],
    version: int,
    salts: t.Sequence[str],
    error: InvalidTokenError,
) -> str:
    """Why ``token`` did not decode as ``version`` under ``salts``: the likely cause, in words."""
    for salt in salts:
        if _open(token, secrets, salt, version) is not None:
            # The key is right, so the claims are what is refused.
            if "nbf" in error.reason:
                claims = _open(token, secrets, salt, version) or {}
                return f"token is not valid yet: its nbf is {_when(claims.get('nbf'))}"
            return f"token refused: {error.reason}"
    try:
        _jwt._parse(token, version)
    except InvalidTokenError as exc:
        return f"malformed token: {exc.reason} (cut short or altered while copying?)"
    if (
        version == 5
        and header_version(header) == 4
        and any(_open(token, secrets, s, 4) is not None for s in ("", *V4_SALTED_COOKIES))
    ):
        return "this is a next-auth v4 token read as Auth.js v5: pass --version 4"
    salt_hint = "the session cookie's name" if version == 5 else "that cookie's name"
    if version == 5 and isinstance(header.get("kid"), str):
        owner = _kid_owner(header["kid"], secrets, [*salts, *V5_SESSION_COOKIES])
        if owner is not None and owner not in salts:
            return (
                f"salt mismatch: the token was made for the cookie {owner!r} (v5 salts the key with "
                f"{salt_hint}): pass --salt {owner}"
            )
        if owner is not None:
            return "decryption failed although the key matches the token's kid: the token was altered"
        tried = " or ".join(repr(s) for s in salts)
        return (
            f"no key from the given secret(s) with salt {tried} matches the token's kid: wrong secret "
            "(not the one that signed it), or the session cookie has another name (pass --salt <cookie name>)"
        )
    others = ["", *V4_SALTED_COOKIES] if version == 4 else list(V5_SESSION_COOKIES)
    for salt in others:
        if salt not in salts and _open(token, secrets, salt, version) is not None:
            if not salt:
                return "salt mismatch: this is a session token, made with the empty salt: drop --salt"
            return f"salt mismatch: the token was made with salt {salt!r} ({salt_hint}): pass --salt {salt}"
    return "decryption failed: wrong secret (not the one that made the token), or the token was altered"


def decode_token(
    text: str,
    *,
    secrets: t.Sequence[str] = (),
    version: int | None = None,
    salt: str | None = None,
) -> dict[str, t.Any]:
    """The claims of a pasted token (a bare JWE, ``Bearer <jwe>`` or ``<cookie name>=<jwe>``).

    :param secrets: default ``NEXTAUTH_SECRET``, then ``AUTH_SECRET``.
    :param version: 4 or 5; default: what the token's header says.
    :param salt: v5: the session cookie's name (default: the pasted cookie's name, else both
        of Auth.js's default names are tried); v4: empty for session tokens.
    :raises click.UsageError: no secret, or a bad option.
    :raises TokenRejected: the token is not accepted; the message names the likely cause.
    """
    token, cookie_name = _split_input(text)
    if not token:
        raise click.UsageError("no token given")
    header = read_header(token)
    detected = header_version(header)
    if detected is None:
        raise TokenRejected(
            f"malformed token: alg {header.get('alg')!r} / enc {header.get('enc')!r} is neither next-auth "
            f"v4's (dir / {_V4_ENC}) nor Auth.js v5's (dir / {_V5_ENC})"
        )
    version = version or detected
    found = tuple(secrets) or secret_from_env(version)
    if not found:
        raise click.UsageError(_NO_SECRET)
    if version == 4 and detected == 5:
        raise TokenRejected(
            f"this is an Auth.js v5 token (enc {header.get('enc')}, with a kid) read as a next-auth v4 "
            "token: pass --version 5"
        )
    if salt is not None:
        salts: list[str] = [salt]
    elif version == 5:
        salts = [cookie_name] if cookie_name else list(V5_SESSION_COOKIES)
    else:
        salts = [""]
    error: InvalidTokenError | None = None
    for candidate in salts:
        try:
            claims = _jwt.decode(token=token, secret=found, salt=candidate, version=version)
        except TokenExpiredError:
            raise TokenRejected(_expired_message(_open(token, found, candidate, version))) from None
        except InvalidTokenError as exc:
            error = exc
            continue
        except ConfigurationError as exc:
            raise click.UsageError(str(exc)) from None
        if claims is not None:
            return claims
    assert error is not None
    raise TokenRejected(diagnose(token, header, found, version, salts, error))


# -- commands ---------------------------------------------------------------------------------


@click.group("authguard")
def authguard_group() -> None:
    """flask_authguard tools: make a secret, read a next-auth session token."""


@authguard_group.command("secret", short_help="Print a new random secret.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["base64", "base64url", "hex"]),
    default="base64",
    show_default=True,
    help="How to write the random bytes.",
)
@click.option(
    "--bytes", "nbytes", type=click.IntRange(16, 1024), default=32, show_default=True, help="How many."
)
def secret_command(fmt: str, nbytes: int) -> None:
    """Print a new random secret for NEXTAUTH_SECRET (like `openssl rand -base64 32`)."""
    click.echo(new_secret(nbytes, fmt))


@authguard_group.command("decode")
@click.argument("token", required=False)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    metavar="SECRET",
    help="The secret (repeat for rotated ones). Default: NEXTAUTH_SECRET, then AUTH_SECRET.",
)
@click.option(
    "--version",
    type=click.Choice(["4", "5"]),
    default=None,
    help="next-auth v4 or Auth.js v5 token. Default: what the token's header says.",
)
@click.option(
    "--salt",
    default=None,
    help="v5: the session cookie's name (default: both authjs.session-token names are tried).",
)
def decode_command(
    token: str | None, secrets: tuple[str, ...], version: str | None, salt: str | None
) -> None:
    """Decrypt a session token and print its claims as JSON.

    TOKEN is the cookie's value (also accepted: `Bearer <token>` or `<cookie name>=<token>`);
    `-` or nothing reads it from standard input, which keeps it out of the shell history.
    """
    if token is None and sys.stdin.isatty():
        raise click.UsageError("no token given: pass TOKEN, or - to read it from standard input")
    if token is None or token == "-":
        token = sys.stdin.read()
    if not secrets:
        secrets = _app_secrets()
    claims = decode_token(token, secrets=secrets, version=int(version) if version else None, salt=salt)
    click.echo(json.dumps(claims, indent=2, ensure_ascii=False))


def _app_secrets() -> tuple[str, ...]:
    """Under ``flask authguard``: the secrets of the app's ``AuthGuard``, when it has one;
    under ``python -m flask_authguard`` (no Flask app): none, so the environment decides."""
    context = click.get_current_context(silent=True)
    if context is None:
        return ()
    try:
        from flask.cli import ScriptInfo
    except ImportError:  # pragma: no cover - Flask is a dependency
        return ()
    info = context.find_object(ScriptInfo)
    if info is None:
        return ()
    try:
        app = info.load_app()
    except Exception as exc:  # no app to load here: the environment decides
        # say so (the type only: a message may hold a database URL's password), or a missing
        # secret would be blamed for an app that did not start
        click.echo(f"Warning: the app did not load ({type(exc).__name__}); its secret is not used.", err=True)
        return ()
    state = app.extensions.get("authguard")
    return tuple(state.config.secrets) if state is not None else ()


def main(argv: t.Sequence[str] | None = None) -> None:
    """``python -m flask_authguard``: the commands without Flask's CLI."""
    authguard_group.main(args=list(argv) if argv is not None else None, prog_name="python -m flask_authguard")
