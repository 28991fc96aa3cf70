"""The JSON routes: ``GET|POST /session``, ``GET /csrf``, ``GET /providers``, ``POST /_log``."""

from __future__ import annotations

import typing as t

from ..sessions import read_session
from .messages import NO_CACHE

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from .flow import Flow


def session_get(f: Flow, provider_id: str | None = None) -> Response:
    """The session JSON (same code as ``get_server_session``); v4 answers ``{}`` when signed
    out, v5 ``null``."""
    result = read_session(f.environ, f.config)
    f.cookies.extend(result.set_cookies)
    empty: t.Any = {} if f.config.version == 4 else None
    return f.json(result.session if result.session is not None else empty, headers=NO_CACHE)


def session_update(f: Flow, provider_id: str | None = None) -> Response:
    """Update the session (CSRF; ``callbacks.jwt`` gets ``trigger="update"`` and ``data``)."""
    if not f.csrf_ok():
        # next-auth: an API route answers 400 {} rather than redirecting.
        return f.json({}, status=400)
    result = read_session(f.environ, f.config, update=f.form.get("data"))
    f.cookies.extend(result.set_cookies)
    return f.json(result.session if result.session is not None else {}, headers=NO_CACHE)


def csrf(f: Flow, provider_id: str | None = None) -> Response:
    """``{"csrfToken": ...}``, with its cookie when a new one was made."""
    return f.json({"csrfToken": f.csrf_token}, headers=NO_CACHE)


def providers_list(f: Flow, provider_id: str | None = None) -> Response:
    """The configured providers with their sign-in and callback URLs."""
    body = {
        p.id: {
            "id": p.id,
            "name": p.name,
            "type": p.type,
            "signinUrl": f"{f.auth_url}/signin/{p.id}",
            "callbackUrl": f"{f.auth_url}/callback/{p.id}",
        }
        for p in f.providers.values()
    }
    return f.json(body)


def client_log(f: Flow, provider_id: str | None = None) -> Response:
    """next-auth's client logger: accepted and dropped."""
    return f.json({})
