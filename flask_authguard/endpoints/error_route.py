"""``GET /error`` and the Configuration error (no secret) in the form the client reads."""

from __future__ import annotations

import json
import typing as t

from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from ..core.http.cookies import encode_value
from .flow import Flow
from .messages import SERVER_ERROR, SIGNIN_ERRORS

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from ..core.settings.config import Config
    from .pages import Pages

#: The routes next-auth answers with a page (not JSON) when the configuration is broken.
HTML_ACTIONS = frozenset({"signin", "signout", "error"})


def error_page(f: Flow, provider_id: str | None = None) -> Response:
    """Sign-in errors go on to the sign-in page; others to ``pages.error`` or the error page
    (500 for ``Configuration``, 403 for ``AccessDenied``/``Verification``, else 200).

    Unlike next-auth, the sign-in page's URL keeps the ``callbackUrl`` the sign-in had (from
    its cookie), so a failed sign-in shows where it will go, and a reload keeps it.
    """
    code = f.request.args.get("error") or "Default"
    if code in SIGNIN_ERRORS:
        location = f"{f.auth_url}/signin?error={encode_value(code)}"
        callback_url = f.callback_url()
        if callback_url != f.base_url:  # the default needs no parameter
            location += f"&callbackUrl={encode_value(callback_url)}"
        return f.redirect(location)
    if f.config.options.pages.error:  # type: ignore[union-attr]
        return f.redirect(f.page_url(f.config.error_page, [("error", code)]))
    return f.pages.error(code, auth_url=f.auth_url, base_url=f.base_url)


def configuration_json() -> Response:
    """next-auth's 500 for API routes when the configuration is broken."""
    return Response(json.dumps({"message": SERVER_ERROR}), status=500, mimetype="application/json")


def configuration_error(f: Flow, action: str) -> Response:
    """The answer to a request when no secret is configured, or when its host gives links no
    trusted origin (:func:`~flask_authguard.core.defences.urls.link_origin`), as next-auth gives it:
    ``GET`` of a page route renders the Configuration error page (or redirects to
    ``pages.error``), every other request gets the 500 JSON. No cookie is set."""
    if action not in HTML_ACTIONS or f.request.method not in ("GET", "HEAD"):
        return configuration_json()
    return _configuration_page(f)


def configuration_answer(request: Request, config: Config, pages: Pages, *, api: bool) -> Response:
    """The Configuration error for a request outside the endpoints (a page whose view read the
    session with no secret set): 500 JSON for API clients, else the error page (500), or a
    redirect to ``pages.error``."""
    if api:
        return configuration_json()
    try:
        f = Flow(request, config, {}, pages, request.script_root)
    except BadRequest:  # an unusable Host header: no links can be made
        return configuration_json()
    return _configuration_page(f)


def _configuration_page(f: Flow) -> Response:
    if f.config.options.pages.error:  # type: ignore[union-attr]
        location = f.page_url(f.config.error_page, [("error", "Configuration")])
        return Response(status=302, headers={"Location": location})
    return f.pages.error("Configuration", auth_url=f.auth_url, base_url=f.base_url)
