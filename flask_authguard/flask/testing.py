"""Helpers for your own test suite: sign a test client in and out with chosen claims.

.. code-block:: python

    from flask_authguard.testing import sign_in, sign_out

    def test_dashboard(app):
        client = app.test_client()
        assert client.get("/dashboard").status_code == 307

        sign_in(client, sub="u1", name="Ada", role="admin")
        assert client.get("/dashboard").status_code == 200

        sign_out(client)
        assert client.get("/dashboard").status_code == 307

The cookie is exactly the one a real sign-in writes: encoded with the app's guard options
(``jwt.encode`` hook, secret, next-auth v4 or Auth.js v5 token), under the right cookie name
(``next-auth.*`` or ``authjs.*``, ``__Secure-`` when the app is https-only, a custom
``cookies.session_token`` name) and chunked like next-auth when it is long. For a client that
is not Flask's (``requests`` against a live server, a werkzeug ``Client`` around a
``with_auth`` app), :func:`make_session_cookie` returns the cookies to send.

.. versionadded:: 0.1
"""

from __future__ import annotations

import typing as t

from ..core.errors import ConfigurationError
from ..core.http.cookies import MAX_CHUNKS, encode_value, is_session_cookie
from ..core.settings.config import Config
from ..core.settings.options import NO_SECRET, AuthOptions
from ..sessions import config_of
from ..sessions.base import encode_token

if t.TYPE_CHECKING:
    from flask import Flask
    from werkzeug.test import Client

__all__ = [
    "AppOrOptions",
    "DEFAULT_CLAIMS",
    "config_for",
    "make_session_cookie",
    "sign_in",
    "sign_out",
]

#: The claims :func:`sign_in` uses when given none: a user as a credentials sign-in makes.
DEFAULT_CLAIMS: dict[str, t.Any] = {
    "name": "Test User",
    "email": "test@example.com",
    "sub": "test-user",
}

AppOrOptions = t.Union["Flask", AuthOptions, t.Mapping[str, t.Any], Config]


def config_for(app_or_options: AppOrOptions) -> Config:
    """The resolved options of a Flask app's ``AuthGuard``, or of options given directly.

    :raises ConfigurationError: the app has no ``AuthGuard``, or the options are invalid.
    """
    extensions = getattr(app_or_options, "extensions", None)
    if isinstance(extensions, dict):
        from .state import state_of

        return state_of(t.cast("Flask", app_or_options)).config
    return config_of(t.cast("AuthOptions | t.Mapping[str, t.Any] | Config", app_or_options))


def _secure(config: Config, secure: bool | None) -> bool:
    if secure is not None:
        return secure
    return bool(config.secure)  # https-only apps; others follow the request, plain by default


def make_session_cookie(
    app: AppOrOptions,
    claims: t.Mapping[str, t.Any] | None = None,
    *,
    max_age: int | None = None,
    secure: bool | None = None,
) -> dict[str, str]:
    """The session cookie(s) that sign a client in with ``claims``: ``{name: value}``.

    One cookie, or ``<name>.0``, ``<name>.1``... when the token is longer than next-auth's
    chunk size. Send them as a ``Cookie`` header, ``"; ".join(f"{k}={v}" for k, v in ...)``,
    or one by one with ``client.set_cookie(name, value)`` (a werkzeug ``Client`` that keeps
    cookies replaces an explicit ``Cookie`` header with its own).

    :param app: a Flask app with ``AuthGuard``, or options (``AuthOptions``, a dict, ``Config``).
    :param claims: the token's claims (default :data:`DEFAULT_CLAIMS`); ``iat``, ``exp`` and
        ``jti`` are set.
    :param max_age: seconds until the token expires; default ``session.max_age``.
    :param secure: ``__Secure-`` names; default: when the app is https-only (``use_secure_cookies``
        or an ``https://`` URL), else plain names, as for the test client's ``http://localhost``.
    :raises ConfigurationError: no secret is configured, no ``AuthGuard`` on the app, or the
        app keeps database sessions.
    """
    config = config_for(app)
    if config.strategy != "jwt":
        raise ConfigurationError(
            "make_session_cookie/sign_in make JWT sessions; with session.strategy 'database' sign "
            "the client in through the credentials endpoint (POST <base path>/callback/<provider id>)"
        )
    if not config.current_secrets():
        raise ConfigurationError(NO_SECRET)
    spec = config.session_cookie(_secure(config, secure))
    salt = config.salt_for(spec.name)
    lifetime = config.session_max_age if max_age is None else max_age
    token = encode_token(config, dict(DEFAULT_CLAIMS if claims is None else claims), lifetime, salt)
    size = config.chunk_size
    pieces = [token[i : i + size] for i in range(0, len(token), size)]
    if len(pieces) == 1:
        return {spec.name: encode_value(token)}
    return {f"{spec.name}.{i}": encode_value(piece) for i, piece in enumerate(pieces)}


def _app_of(client: Client, app: Flask | None) -> Flask:
    found = app if app is not None else getattr(client, "application", None)
    if found is None or not isinstance(getattr(found, "extensions", None), dict):
        raise TypeError("pass app=... : the client does not wrap a Flask app")
    return t.cast("Flask", found)


def _domain(app: Flask, domain: str | None) -> str:
    if domain:
        return domain
    server_name = app.config.get("SERVER_NAME")
    return server_name.rsplit(":", 1)[0] if server_name else "localhost"


def _session_names(config: Config) -> set[str]:
    names = set()
    for secure in (False, True):
        base = config.session_cookie(secure).name
        names.add(base)
        names.update(f"{base}.{i}" for i in range(MAX_CHUNKS))
    return names


def _forget_session(client: Client, config: Config, domain: str) -> None:
    stored = getattr(client, "_cookies", None)
    bases = {config.session_cookie(False).name, config.session_cookie(True).name}
    if isinstance(stored, dict):
        # Every stored copy, whatever domain or path the app's own Set-Cookie gave it.
        for key in [k for k in stored if isinstance(k, tuple) and len(k) == 3]:
            if any(is_session_cookie(key[2], base) for base in bases):
                del stored[key]
        return
    for name in _session_names(config):
        client.delete_cookie(name, domain=domain)


def sign_in(
    client: Client,
    claims: t.Mapping[str, t.Any] | None = None,
    /,
    *,
    app: Flask | None = None,
    max_age: int | None = None,
    secure: bool | None = None,
    domain: str | None = None,
    **more_claims: t.Any,
) -> dict[str, str]:
    """Sign a Flask test client in: set the session cookie(s) a real sign-in would set.

    ``sign_in(client)`` signs in :data:`DEFAULT_CLAIMS`; ``sign_in(client, {"sub": "u1"})`` or
    ``sign_in(client, sub="u1", role="admin")`` given claims (keywords are added to the
    mapping). A session the client had is replaced.

    :param client: ``app.test_client()`` (any werkzeug ``Client`` with cookies on).
    :param app: the app whose ``AuthGuard`` options apply; default ``client.application``.
    :param max_age: seconds until the token expires; default ``session.max_age``.
    :param secure: ``__Secure-`` names; default when the app is https-only.
    :param domain: the cookie's domain; default the app's ``SERVER_NAME`` host, else ``localhost``.
    :returns: the cookies set, ``{name: value}``.
    :raises ConfigurationError: no secret, or no ``AuthGuard`` on the app.
    """
    flask_app = _app_of(client, app)
    config = config_for(flask_app)
    merged = dict(DEFAULT_CLAIMS if claims is None and not more_claims else claims or {})
    merged.update(more_claims)
    cookies = make_session_cookie(config, merged, max_age=max_age, secure=secure)
    host = _domain(flask_app, domain)
    _forget_session(client, config, host)
    for name, value in cookies.items():
        client.set_cookie(name, value, domain=host, path="/")
    return cookies


def sign_out(client: Client, *, app: Flask | None = None, domain: str | None = None) -> None:
    """Sign a test client out: forget every session cookie and chunk it holds (plain and
    ``__Secure-`` names), as the sign-out endpoint's deletions would."""
    flask_app = _app_of(client, app)
    _forget_session(client, config_for(flask_app), _domain(flask_app, domain))
