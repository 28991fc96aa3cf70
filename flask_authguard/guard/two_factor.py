"""Routes that need the second factor (``mfa=True``), for every front end: :func:`mfa_refusal`.

:meth:`AuthCore.check <flask_authguard.guard.decision.AuthCore.check>` (``mfa=True``) runs it once
the request is authorized and its sign-in recent enough, before the inner middleware: a session
that has passed the second factor goes on; any other is sent to
``<base path>/two-factor?callbackUrl=<this page>`` (307), where the user enrols or enters a code
and comes back. API requests get 401 JSON with RFC 9470's
``WWW-Authenticate: Bearer error="insufficient_user_authentication"`` (step-up authentication: the
user is known, the way they signed in is not enough) and the page's ``url``.
"""

from __future__ import annotations

import logging
import typing as t

from werkzeug.exceptions import BadRequest

from ..core.defences.urls import link_origin, mount_path, under
from ..core.errors import BackendUnavailableError
from ..core.http.clients import answers_json
from ..sessions.two_factor import passed
from .answers import Redirect, json_response
from .incoming import browser_path, with_param

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

    from ..core.settings.config import Config
    from ..core.tokens.request_token import Claims

logger = logging.getLogger("flask_authguard")

#: The ``WWW-Authenticate`` of the 401 (RFC 9470).
STEP_UP_CHALLENGE = (
    'Bearer error="insufficient_user_authentication", error_description="A second factor is required"'
)


class SecondFactorCore(t.Protocol):
    """What the second-factor check needs of :class:`~flask_authguard.guard.decision.AuthCore`
    (which calls it)."""

    config: Config

    def token(self, environ: WSGIEnvironment) -> Claims | None: ...

    def path(self, environ: WSGIEnvironment) -> str: ...

    def config_error(self, environ: WSGIEnvironment) -> WSGIApplication: ...

    def unavailable(self, environ: WSGIEnvironment) -> WSGIApplication: ...


def mfa_refusal(core: SecondFactorCore, environ: WSGIEnvironment) -> WSGIApplication | None:
    """``None`` when the request's session passed the second factor, else the way to it (module
    docstring); the Configuration error when ``two_factor`` is off (nothing could pass)."""
    config = core.config
    if config.two_factor is None:
        logger.error("a route needs the second factor (mfa=True) but two_factor is off: set two_factor=True")
        return core.config_error(environ)
    try:
        if passed(config, core.token(environ)):
            return None
    except BackendUnavailableError as exc:
        logger.error("two-factor records unavailable, answering 503: %s", exc)
        return core.unavailable(environ)
    callback = browser_path(environ, core.path(environ))
    page = config.base_path + "/two-factor"
    script = environ.get("SCRIPT_NAME", "")
    mount = "" if not script or under(page, script) else mount_path(script)
    try:
        origin = link_origin(config, environ) or ""
    except BadRequest:  # an unusable Host header: a relative link
        origin = ""
    location = with_param(origin + mount + page, "callbackUrl", callback)
    if answers_json(config, environ):
        body = {
            "error": "SecondFactorRequired",
            "message": "Enter a code from your authenticator.",
            "url": location,
        }
        return json_response(401, body, {"WWW-Authenticate": STEP_UP_CHALLENGE})
    return Redirect(location)


__all__ = ["STEP_UP_CHALLENGE", "SecondFactorCore", "mfa_refusal"]
