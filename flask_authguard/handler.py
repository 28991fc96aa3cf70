"""The ``/api/auth/...`` endpoints: next-auth's route handler as a Flask blueprint.

``AuthGuard`` registers it under the auth base path unless ``endpoints=False``:

=========================  ==============================================================
``GET  /session``          the session JSON (same code as ``get_server_session``)
``POST /session``          update the session (CSRF; ``callbacks.jwt`` gets ``trigger="update"``)
``GET  /csrf``             ``{"csrfToken": ...}``
``GET  /providers``        the configured providers
``GET  /signin``           the sign-in page (or a redirect to ``pages.sign_in``)
``POST /signin/<id>``      start signing in with a provider (CSRF)
``GET|POST /callback/<id>``  finish signing in (credentials: CSRF)
``GET  /signout``          the sign-out page (or a redirect to ``pages.sign_out``)
``POST /signout``          sign out (CSRF)
``GET  /error``            the error page
=========================  ==============================================================

Anything else answers next-auth's 400. A POST with ``json=true`` answers ``{"url": ...}``
instead of redirecting, for fetch-based clients.
"""

from __future__ import annotations

import json
import logging
import re
import typing as t
from urllib.parse import quote, urlsplit

from flask import Blueprint, render_template, request
from werkzeug.wrappers import Response

from . import _clock
from ._compat import call_sync
from .cookies import chunk, clean, encode_value, set_cookie_header
from .csrf import csrf_cookie_value, new_csrf_token, token_from_cookie, verify
from .errors import BackendUnavailableError, ConfigurationError
from .options import Config
from .providers import Provider
from .session import call_jwt_callback, encode_token, fire_event, read_session
from .token import request_cookies

if t.TYPE_CHECKING:
    from .ext import GuardState

logger = logging.getLogger("flask_authguard")

_NO_CACHE = {"Cache-Control": "private, no-cache, no-store", "Pragma": "no-cache", "Expires": "0"}
_SERVER_ERROR = "There is a problem with the server configuration. Check the server logs for more information."
#: Errors the error route sends back to the sign-in page (next-auth's list).
SIGNIN_ERRORS = frozenset(
    {
        "Signin", "OAuthSignin", "OAuthCallback", "OAuthCreateAccount", "EmailCreateAccount", "Callback",
        "OAuthAccountNotLinked", "EmailSignin", "CredentialsSignin", "SessionRequired",
    }
)
ERROR_MESSAGES = {
    "Configuration": ("Server error", "There is a problem with the server configuration.", 500),
    "AccessDenied": ("Access denied", "You do not have permission to sign in.", 403),
    "Verification": ("Unable to sign in", "The sign in link is no longer valid.", 403),
    "Default": ("Error", "Something went wrong. Please try again.", 200),
}
SIGNIN_MESSAGES = {
    "CredentialsSignin": "Sign in failed. Check the details you provided are correct.",
    "SessionRequired": "Please sign in to access this page.",
    "Default": "Unable to sign in.",
}
_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f\\]")


def safe_redirect(url: t.Any, base_url: str) -> str:
    """next-auth's default ``redirect`` callback, hardened against open redirects.

    Only single-slash relative paths and absolute URLs with exactly ``base_url``'s origin pass;
    ``//host``, ``/\\host``, backslashes, control characters and other schemes give ``base_url``.
    """
    if not isinstance(url, str) or not url or _UNSAFE_URL.search(url):
        return base_url
    if url.startswith("/"):
        return base_url if url.startswith("//") else base_url + url
    try:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
    except ValueError:
        return base_url
    return url if parts.scheme in ("http", "https") and origin == base_url else base_url


def base_url_of(config: Config) -> str:
    """The app's origin: ``url``'s, else the request's."""
    if config.url:
        url = config.url if "://" in config.url else "https://" + config.url
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"
    return request.host_url.rstrip("/")


class _Flow:
    """One request through the handler: options, cookies to set, CSRF state."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.secure = config.is_secure(request.scheme)
        self.cookies: list[str] = []
        self.base_url = base_url_of(config)
        self.auth_url = self.base_url + request.script_root + config.base_path
        csrf_spec = config.cookie("csrf_token", self.secure)
        self.csrf_token = token_from_cookie(request.cookies.get(csrf_spec.name), config.current_secrets())
        if self.csrf_token is None:
            self.csrf_token = new_csrf_token()
            value = encode_value(csrf_cookie_value(self.csrf_token, config.current_secrets()[0]))
            self.cookies.append(set_cookie_header(csrf_spec, value))

    # -- responses -----------------------------------------------------------------------------

    def finish(self, response: Response) -> Response:
        for header in self.cookies:
            response.headers.add("Set-Cookie", header)
        return response

    def json(self, body: t.Any, status: int = 200, headers: t.Mapping[str, str] | None = None) -> Response:
        response = Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)
        return self.finish(response)

    def redirect(self, location: str) -> Response:
        if _wants_json():
            return self.json({"url": location})
        return self.finish(Response(status=302, headers={"Location": location}))

    def page(self, template: str, status: int = 200, **context: t.Any) -> Response:
        html = render_template(template, csrf_token=self.csrf_token, auth_url=self.auth_url, **context)
        return self.finish(Response(html, status=status, mimetype="text/html"))

    # -- helpers -------------------------------------------------------------------------------

    def csrf_ok(self) -> bool:
        return verify(self.csrf_token, _form().get("csrfToken"))

    def resolve_redirect(self, url: t.Any) -> str:
        callback = self.config.callbacks.redirect
        if callback is not None:
            return str(call_sync(callback, url=url, base_url=self.base_url))
        return safe_redirect(url, self.base_url)

    def page_url(self, page: str, **params: str) -> str:
        base = page if "://" in page else self.base_url + request.script_root + page
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items() if v)
        if not query:
            return base
        return f"{base}{'&' if '?' in base else '?'}{query}"


def _form() -> t.Mapping[str, t.Any]:
    if request.is_json:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}
    return request.form


def _wants_json() -> bool:
    return str(_form().get("json", "")).lower() == "true"


def _providers(config: Config) -> dict[str, Provider]:
    return {p.id: p for p in config.options.providers}


def make_blueprint(state: GuardState) -> Blueprint:
    """The endpoints as a blueprint bound to one app's guard state."""
    bp = Blueprint("authguard", __name__, template_folder="templates")

    def flow() -> _Flow:
        return _Flow(state.config)

    @bp.errorhandler(ConfigurationError)
    def configuration_error(exc: ConfigurationError) -> Response:
        logger.error("auth endpoint: %s", exc)
        return Response(json.dumps({"message": _SERVER_ERROR}), status=500, mimetype="application/json")

    @bp.errorhandler(BackendUnavailableError)
    def backend_error(exc: BackendUnavailableError) -> Response:
        logger.error("auth endpoint: session store unavailable: %s", exc)
        body = {"message": "The session store is unavailable. Try again shortly."}
        return Response(json.dumps(body), status=503, mimetype="application/json", headers={"Retry-After": "5"})

    @bp.before_request
    def need_secret() -> None:
        if not state.config.current_secrets():
            raise ConfigurationError("no secret: set NEXTAUTH_SECRET (or AUTH_SECRET), or pass secret=...")

    @bp.get("/session")
    def session_get() -> Response:
        f = flow()
        result = read_session(request.environ, state.config)
        f.cookies.extend(result.set_cookies)
        empty: t.Any = {} if state.config.version == 4 else None
        return f.json(result.session if result.session is not None else empty, headers=_NO_CACHE)

    @bp.post("/session")
    def session_update() -> Response:
        f = flow()
        if not f.csrf_ok():
            return f.json({}, status=400)
        return f.json(_update_session(f), headers=_NO_CACHE)

    @bp.get("/csrf")
    def csrf() -> Response:
        f = flow()
        return f.json({"csrfToken": f.csrf_token}, headers=_NO_CACHE)

    @bp.get("/providers")
    def providers() -> Response:
        f = flow()
        body = {
            p.id: {
                "id": p.id,
                "name": p.name,
                "type": p.type,
                "signinUrl": f"{f.auth_url}/signin/{p.id}",
                "callbackUrl": f"{f.auth_url}/callback/{p.id}",
            }
            for p in _providers(state.config).values()
        }
        return f.json(body)

    @bp.get("/signin")
    def signin_page() -> Response:
        f = flow()
        config = state.config
        callback_url = request.args.get("callbackUrl", "")
        error = request.args.get("error", "")
        if config.options.pages.sign_in:  # type: ignore[union-attr]
            return f.redirect(f.page_url(config.sign_in_page, callbackUrl=callback_url, error=error))
        return f.page(
            "authguard/signin.html",
            providers=list(_providers(config).values()),
            callback_url=f.resolve_redirect(callback_url or f.base_url),
            error=SIGNIN_MESSAGES.get(error, SIGNIN_MESSAGES["Default"]) if error else "",
            csrf_failed=request.args.get("csrf") == "true",
        )

    @bp.post("/signin/<provider_id>")
    def signin_start(provider_id: str) -> Response:
        f = flow()
        if not f.csrf_ok():
            return f.redirect(f"{f.auth_url}/signin?csrf=true")
        provider = _providers(state.config).get(provider_id)
        if provider is None:
            return f.redirect(f.page_url(state.config.sign_in_page, error="Signin"))
        if provider.type == "credentials":
            return _sign_in(f, provider)
        begin = getattr(provider, "begin_sign_in", None)
        if begin is None:
            return f.redirect(f.page_url(state.config.sign_in_page, error="Signin"))
        return f.finish(begin(request))

    @bp.route("/callback/<provider_id>", methods=["GET", "POST"])
    def callback(provider_id: str) -> Response:
        f = flow()
        provider = _providers(state.config).get(provider_id)
        if provider is None:
            return f.redirect(f.page_url(state.config.sign_in_page, error="Callback"))
        if provider.type == "credentials":
            if request.method != "POST":
                return f.redirect(f.page_url(state.config.sign_in_page, error="Callback"))
            if not f.csrf_ok():
                return f.redirect(f"{f.auth_url}/signin?csrf=true")
        return _sign_in(f, provider)

    @bp.get("/signout")
    def signout_page() -> Response:
        f = flow()
        if state.config.options.pages.sign_out:  # type: ignore[union-attr]
            return f.redirect(f.page_url(state.config.sign_out_page))
        callback_url = f.resolve_redirect(request.args.get("callbackUrl") or f.base_url)
        return f.page("authguard/signout.html", callback_url=callback_url)

    @bp.post("/signout")
    def signout() -> Response:
        f = flow()
        if not f.csrf_ok():
            return f.redirect(f"{f.auth_url}/signout?csrf=true")
        _sign_out(f)
        return f.redirect(f.resolve_redirect(_form().get("callbackUrl") or f.base_url))

    @bp.get("/error")
    def error_page() -> Response:
        f = flow()
        config = state.config
        code = request.args.get("error", "Default")
        if code in SIGNIN_ERRORS:
            return f.redirect(f.page_url(config.sign_in_page, error=code))
        if config.options.pages.error:  # type: ignore[union-attr]
            return f.redirect(f.page_url(config.error_page, error=code))
        heading, message, status = ERROR_MESSAGES.get(code, ERROR_MESSAGES["Default"])
        return f.page("authguard/error.html", status=status, heading=heading, message=message)

    @bp.post("/_log")
    def client_log() -> Response:
        return flow().json({})

    @bp.route("/", defaults={"action": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @bp.route("/<path:action>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unsupported(action: str) -> Response:
        text = f"Error: This action with HTTP {request.method} is not supported by NextAuth.js"
        return Response(text, status=400, mimetype="text/plain")

    return bp


def _session_spec(f: _Flow) -> t.Any:
    return f.config.session_cookie(f.secure)


def _sign_in(f: _Flow, provider: Provider) -> Response:
    config = f.config
    form = _form()
    callback_url = form.get("callbackUrl") or request.args.get("callbackUrl") or f.base_url
    try:
        result = provider.handle_callback(request._get_current_object(), form)  # type: ignore[attr-defined]
    except Exception:
        logger.exception("provider %s failed during sign-in", provider.id)
        result = None
    if result is None:
        return f.redirect(f.page_url(config.sign_in_page, error="CredentialsSignin", callbackUrl=str(callback_url)))
    user, account = result.user, result.account
    if config.callbacks.sign_in is not None:
        allowed = call_sync(
            config.callbacks.sign_in, user=user, account=account, profile=result.profile, credentials=dict(form)
        )
        if isinstance(allowed, str):
            return f.redirect(f.resolve_redirect(allowed))
        if not allowed:
            return f.redirect(f.page_url(config.error_page, error="AccessDenied"))
    if config.strategy == "database":
        from .database import sign_in_database

        f.cookies.extend(sign_in_database(request.environ, config, user, f.secure))
    else:
        claims = {k: v for k, v in (("name", user.get("name")), ("email", user.get("email")),
                                    ("picture", user.get("image")), ("sub", user.get("id"))) if v is not None}
        if "sub" in claims:
            claims["sub"] = str(claims["sub"])
        token = call_jwt_callback(
            config, claims, user=user, account=account, profile=result.profile, trigger="signIn",
            is_new_user=result.is_new_user,
        )
        if token is None:
            return f.redirect(f.page_url(config.error_page, error="AccessDenied"))
        spec = _session_spec(f)
        salt = spec.name if config.version == 5 else ""
        encoded = encode_token(config, token, config.jwt_max_age, salt)
        f.cookies.extend(
            chunk(spec, encoded, existing=request_cookies(request.environ), chunk_size=config.chunk_size,
                  expires=_clock.now() + config.session_max_age)
        )
    fire_event(config, "sign_in", user=user, account=account, profile=result.profile, is_new_user=result.is_new_user)
    return f.redirect(f.resolve_redirect(callback_url))


def _sign_out(f: _Flow) -> None:
    config = f.config
    spec = _session_spec(f)
    cookies = request_cookies(request.environ)
    if config.strategy == "database":
        from .database import sign_out_database

        session = sign_out_database(request.environ, config, spec)
        fire_event(config, "sign_out", session=session)
    else:
        from .middleware import TOKEN_ENVIRON_KEY

        fire_event(config, "sign_out", token=request.environ.get(TOKEN_ENVIRON_KEY))
    f.cookies.extend(clean(spec, existing=cookies))


def _update_session(f: _Flow) -> t.Any:
    """POST /session: ``callbacks.jwt(trigger="update", session=<posted data>)``, re-encode."""
    result = read_session(request.environ, f.config, update=_form().get("data"))
    f.cookies.extend(result.set_cookies)
    return result.session if result.session is not None else {}
