"""``get_token``: the session token of a request, from its cookie or a Bearer header.

.. code-block:: python

    from flask_authguard import get_token

    claims = get_token(request)            # werkzeug Request or WSGI environ
    raw = get_token(request, raw=True)     # the token string, unchecked
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import typing as t
from collections.abc import Mapping
from urllib.parse import unquote

from werkzeug.http import parse_cookie

from .._compat import call_sync
from ..errors import ConfigurationError, TokenError
from ..http.cookies import hides_session_cookie, opaque_session_value, session_values
from ..settings.config import Config, resolve_options, secret_from_env
from ..settings.options import NO_SECRET
from .jwt import MAX_TOKEN_LENGTH, Secret, verified_claims

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
    from werkzeug.wrappers import Request

logger = logging.getLogger("flask_authguard")

Claims = dict[str, t.Any]
DecodeHook = t.Callable[..., t.Any]

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_COOKIES_KEY = "authguard.cookies"
#: Where the guard leaves the decoded token (or ``None``) in the environ.
TOKEN_ENVIRON_KEY = "authguard.token"
#: The resolved options the token in the environ was read with (set once it is read).
TOKEN_CONFIG_KEY = "authguard.token_config"
#: The resolved options of the auth endpoints serving the request (providers read it there).
CONFIG_ENVIRON_KEY = "authguard.config"


def environ_of(request_or_environ: Request | WSGIEnvironment) -> WSGIEnvironment:
    """The WSGI environ behind a werkzeug request, or the environ itself."""
    environ = getattr(request_or_environ, "environ", request_or_environ)
    if not isinstance(environ, dict):
        raise TypeError("get_token needs a werkzeug Request or a WSGI environ")
    return environ


def request_cookies(environ: WSGIEnvironment) -> t.Any:
    """The request's cookies as a werkzeug ``MultiDict``, parsed once per request."""
    cookies = environ.get(_COOKIES_KEY)
    if cookies is None:
        try:
            cookies = parse_cookie(environ)
        except UnicodeError:
            # werkzeug decodes the header as strict UTF-8: one stray byte must not fail the request.
            cookies = parse_cookie(_utf8_replaced(environ.get("HTTP_COOKIE") or ""))
        environ[_COOKIES_KEY] = cookies
    return cookies


def _utf8_replaced(header: str) -> str:
    """A WSGI (latin-1) header string whose UTF-8 bytes have bad sequences replaced by U+FFFD."""
    text = header.encode("latin-1", "replace").decode("utf-8", "replace")
    return text.encode("utf-8").decode("latin-1")


def bearer_token(environ: WSGIEnvironment) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, as next-auth reads it.

    The scheme is case-sensitive and followed by exactly one space; the token is
    percent-decoded and a malformed escape means no token.
    """
    header = environ.get("HTTP_AUTHORIZATION")
    if not header:
        return None
    parts = header.split(" ")
    if parts[0] != "Bearer" or len(parts) < 2 or not parts[1]:
        return None
    token = parts[1]
    if "%" in token:
        if _BAD_ESCAPE.search(token):
            return None
        try:
            token = unquote(token, errors="strict")
        except UnicodeDecodeError:
            return None
    return token or None


def session_cookies(environ: WSGIEnvironment, name: str) -> t.Any:
    """The request's cookies (a ``MultiDict``: ``getlist`` works), among them session cookie
    ``name`` and its chunks; parsed once per request (:func:`request_cookies`)."""
    return request_cookies(environ)


def single_cookie_value(header: str | None, name: str) -> str | None:
    """The value of cookie ``name`` when the header holds it once, unchunked, plainly spelt.

    ``None`` means "not that simple" (absent, repeated, chunked, blanks around ``=``, quoted,
    percent-encoded, non-ASCII): the general reader then decides. The answer is the one the
    general reader would give for such a header.
    """
    if not header:
        return None
    # one split at "name=" and one at the ";" after the value: the token is copied once
    before, found, after = header.partition(name + "=")
    if not found:
        return None
    if before and (
        before[-1] not in "; \t"
        or before.rstrip(" \t")[-1:] not in ("", ";")
        or name in before
        or '"' in before
    ):
        # the end of a longer name, a pair without its ";", a chunk or twin before it, or a
        # quote that may open a value werkzeug reads across ";"
        return None
    value, _, rest = after.partition(";")
    if name in rest:
        return None  # present twice (duplicates, chunks)
    value = value.strip(" \t")  # werkzeug's blanks: other whitespace stays in the value
    if not value or '"' in value or "%" in value or not value.isascii():
        return None
    return value


def session_cookie_values(environ: WSGIEnvironment, name: str) -> tuple[tuple[str, ...], list[str]]:
    """The one reader of the session cookie, for the guard and the session read alike: the
    names of the request's cookies that may belong to session cookie ``name`` (every cookie's
    name when the header was parsed; only ``name`` and its chunks count) and the candidate token
    values :func:`~flask_authguard.core.http.cookies.session_values` gives for them.

    The usual request holds the session cookie once, unchunked and plainly spelt, or not at
    all: then the answer comes from one look at the header (:func:`single_cookie_value`), the
    one werkzeug's parser would give; anything else is parsed in full.
    """
    decided, value = _plain_cookie(environ, name)
    if decided:
        return ((name,), [value]) if value is not None else ((), [])
    cookies = request_cookies(environ)
    if hides_session_cookie(environ.get("HTTP_COOKIE"), cookies, name):
        logger.debug("session cookie hidden by a quoted cookie value: no session")
        return tuple(cookies), []
    return tuple(cookies), session_values(cookies, name)


def database_session_cookie(environ: WSGIEnvironment, name: str) -> tuple[tuple[str, ...], str | None]:
    """:func:`session_cookie_values` for a database session: the names of the request's cookies
    that may belong to session cookie ``name``, and the one session token they hold
    (:func:`~flask_authguard.core.http.cookies.opaque_session_value`: never from chunks, none
    for two different values), from one look at the header in the usual request."""
    decided, value = _plain_cookie(environ, name)
    if decided:
        return ((name,) if value is not None else ()), value
    cookies = request_cookies(environ)
    if hides_session_cookie(environ.get("HTTP_COOKIE"), cookies, name):
        logger.debug("session cookie hidden by a quoted cookie value: no session")
        return tuple(cookies), None
    return tuple(cookies), opaque_session_value(cookies, name)


def _plain_cookie(environ: WSGIEnvironment, name: str) -> tuple[bool, str | None]:
    """What the header alone says of cookie ``name``: ``(True, value)`` when it holds the
    cookie once, unchunked and plainly spelt (:func:`single_cookie_value`), ``(True, None)``
    when it cannot hold it at all, ``(False, None)`` when only parsing can tell (or the cookies
    were parsed already: then every reader answers from them)."""
    if _COOKIES_KEY in environ:
        return False, None
    header = environ.get("HTTP_COOKIE")
    value = single_cookie_value(header, name)
    if value is not None:
        return True, value
    return (not header or name not in header), None


def decode_candidates(
    candidates: t.Sequence[str],
    secrets: tuple[str, ...],
    salt: str,
    version: int,
    decode: DecodeHook | None = None,
) -> Claims | None:
    """The claims of the first candidate that decodes, or ``None``; reasons are logged.

    Every candidate is tried: when two of them decode to different identities (a cookie planted
    from a sibling subdomain beside the user's own), the answer is ``None``, "no session",
    never the other identity.
    """
    found: Claims | None = None
    for value in candidates:
        if len(value) > MAX_TOKEN_LENGTH:
            logger.debug("session token refused: longer than %d characters", MAX_TOKEN_LENGTH)
            continue
        try:
            if decode is not None:
                claims = call_sync(decode, token=value, secret=_secret_arg(secrets))
            else:
                claims = verified_claims(value, secrets, salt, version)
        except TokenError as exc:
            logger.debug("session token refused: %s", exc.reason)
            continue
        except Exception as exc:  # a user decode hook may raise anything
            logger.debug("session token refused by the decode hook: %s", type(exc).__name__)
            continue
        if not claims:
            continue
        if type(claims) is not dict:
            if not isinstance(claims, Mapping):
                logger.debug("session token refused: the decode hook returned a %s", type(claims).__name__)
                continue
            claims = dict(claims)
        if found is None:
            found = claims
        elif _identity(claims) != _identity(found):
            logger.debug("session cookies refused: they hold tokens of different identities")
            return None
    return found


#: Claims that change with every issue of the same identity's token.
_VOLATILE = frozenset({"iat", "exp", "nbf", "jti"})


def _identity(claims: Claims) -> str:
    """Who a token is for: its ``sub``, else every claim but the timestamps."""
    if "sub" in claims:
        return "sub:" + json.dumps(claims["sub"], sort_keys=True, default=str)
    rest = {k: v for k, v in claims.items() if k not in _VOLATILE}
    return "claims:" + json.dumps(rest, sort_keys=True, default=str)


def _secret_arg(secrets: tuple[str, ...]) -> Secret:
    return secrets[0] if len(secrets) == 1 else list(secrets)


def token_for(
    environ: WSGIEnvironment,
    config: Config,
    *,
    raw: bool = False,
) -> Claims | str | None:
    """:func:`get_token` with resolved options: the path every layer takes. The session
    cookie's candidate values, else the ``Authorization: Bearer`` header's (an oversized cookie
    is no token, but it still shadows the header, as in next-auth)."""
    secure = config.secure
    if secure is None:
        secure = environ.get("wsgi.url_scheme") == "https"
    candidates = session_cookie_values(environ, config.session_cookies[secure].name)[1]
    if not candidates:
        bearer = bearer_token(environ)
        candidates = [bearer] if bearer else []
    if raw:
        return next((value for value in candidates if len(value) <= MAX_TOKEN_LENGTH), None)
    if not candidates:
        return None
    secrets = config.secrets or config.current_secrets()
    if not secrets:
        logger.error(NO_SECRET)
        return None
    salt = config.session_salts[secure]
    return decode_candidates(candidates, secrets, salt, config.version, config.jwt.decode)


def get_token(
    request_or_environ: Request | WSGIEnvironment,
    *,
    secret: Secret | None = None,
    raw: bool = False,
    cookie_name: str | None = None,
    secure_cookie: bool | None = None,
    decode: DecodeHook | None = None,
    version: int | None = None,
) -> Claims | str | None:
    """The session token of a request: the session cookie (chunks joined), else an
    ``Authorization: Bearer`` header.

    :param request_or_environ: a werkzeug ``Request`` or a WSGI environ.
    :param secret: default from the environment: ``NEXTAUTH_SECRET``, else ``AUTH_SECRET`` and
        ``AUTH_SECRET_1``..``_3`` (v5: the other way; see :func:`~.config.secret_from_env`).
    :param raw: return the token string as found, without checking it.
    :param cookie_name: default ``next-auth.session-token`` (v5: ``authjs.session-token``),
        with the ``__Secure-`` prefix when secure.
    :param secure_cookie: default: ``NEXTAUTH_URL``'s scheme, else the request's scheme.
    :param decode: ``decode(token=..., secret=...)`` replacing the JWE decoder.
    :param version: 4 (default) or 5.
    :returns: the claims (or the raw string), or ``None`` when absent or invalid.
    """
    environ = environ_of(request_or_environ)
    version = version or 4
    if secret is None:
        secret = secret_from_env(version) or None
    elif not isinstance(secret, str):
        secret = tuple(secret)
    # The options are resolved once per distinct call (and environment), not per request.
    url_env = (os.environ.get("NEXTAUTH_URL"), os.environ.get("AUTH_URL"))
    args = (version, secret, secure_cookie, cookie_name, decode, url_env)
    try:
        try:
            config = _config_for(*args)
        except TypeError:  # an unhashable decode hook: resolve without the cache
            config = _config_for.__wrapped__(*args)
    except ConfigurationError as exc:
        logger.debug("get_token: %s", exc)
        return None
    return token_for(environ, config, raw=raw)


@functools.lru_cache(maxsize=32)
def _config_for(
    version: int,
    secret: str | tuple[str, ...] | None,
    secure_cookie: bool | None,
    cookie_name: str | None,
    decode: DecodeHook | None,
    url_env: tuple[str | None, str | None],
) -> Config:
    options: dict[str, t.Any] = {
        "version": version,
        "secret": list(secret) if isinstance(secret, tuple) else secret,
        "use_secure_cookies": secure_cookie,
        "jwt": {"decode": decode},
    }
    if cookie_name:
        options["cookies"] = {"session_token": {"name": cookie_name}}
    return resolve_options(options, warn_missing_secret=False)
