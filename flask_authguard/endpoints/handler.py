"""The ``/api/auth/...`` endpoints: next-auth's route handler as a Flask blueprint.

``AuthGuard`` registers it under the auth base path unless ``endpoints=False``:

============================  ==========================================================
``GET  /session``             the session JSON (same code as ``get_server_session``)
``POST /session``             update the session (CSRF; ``callbacks.jwt`` gets
                              ``trigger="update"`` and the posted ``data``)
``GET  /csrf``                ``{"csrfToken": ...}``
``GET  /providers``           the configured providers
``GET  /signin``              the sign-in page (or a redirect to ``pages.sign_in``)
``POST /signin/<id>``         start signing in with a provider (CSRF)
``GET|POST /callback/<id>``   finish signing in (credentials: POST with CSRF)
``GET  /signout``             the sign-out page (or a redirect to ``pages.sign_out``)
``POST /signout``             sign out (CSRF)
``GET  /error``               the error page (or a redirect to ``pages.error``)
============================  ==========================================================

Anything else answers next-auth's 400. Redirects are 302; a POST with ``json=true`` answers
``{"url": ...}`` instead, for fetch-based clients such as ``next-auth/react``. Every URL the
user goes to next passes ``callbacks.redirect`` (default :func:`safe_redirect`: same origin
only).
"""

from __future__ import annotations

import json
import logging
import re
import typing as t
from urllib.parse import quote, urlencode, urlsplit

from flask import Blueprint, render_template, request
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from ..core import _clock
from ..core._compat import call_sync
from ..core.cookies import (
    chunk,
    clean,
    decode_value,
    delete_cookie_header,
    encode_value,
    session_values,
    set_cookie_header,
)
from ..core.csrf import csrf_cookie_value, new_csrf_token, token_from_cookie, verify
from ..core.errors import BackendUnavailableError, ConfigurationError
from ..core.options import NO_SECRET, Config
from ..core.token import request_cookies
from ..providers.base import RESERVED_FIELDS, Provider, SignInError, check_providers
from ..sessions.session import (
    call_jwt_callback,
    decode_session_cookie,
    encode_token,
    fire_event,
    read_session,
)

if t.TYPE_CHECKING:
    from ..flask.ext import GuardState

logger = logging.getLogger("flask_authguard")

#: next-auth's headers on the session and csrf answers.
NO_CACHE = {"Cache-Control": "private, no-cache, no-store", "Pragma": "no-cache", "Expires": "0"}
#: The built-in pages carry a CSRF token: never cached, never framed (clickjacking).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
}
_SERVER_ERROR = (
    "There is a problem with the server configuration. Check the server logs for more information."
)

#: Error codes the error route sends on to the sign-in page (next-auth's list).
SIGNIN_ERRORS = frozenset(
    {
        "Signin",
        "OAuthSignin",
        "OAuthCallback",
        "OAuthCreateAccount",
        "EmailCreateAccount",
        "Callback",
        "OAuthAccountNotLinked",
        "EmailSignin",
        "CredentialsSignin",
        "SessionRequired",
    }
)
#: The sign-in page's message per error code (next-auth's texts).
SIGNIN_MESSAGES = {
    "Signin": "Try signing in with a different account.",
    "OAuthSignin": "Try signing in with a different account.",
    "OAuthCallback": "Try signing in with a different account.",
    "OAuthCreateAccount": "Try signing in with a different account.",
    "EmailCreateAccount": "Try signing in with a different account.",
    "Callback": "Try signing in with a different account.",
    "OAuthAccountNotLinked": "To confirm your identity, sign in with the same account you used originally.",
    "EmailSignin": "The e-mail could not be sent.",
    "CredentialsSignin": "Sign in failed. Check the details you provided are correct.",
    "SessionRequired": "Please sign in to access this page.",
    "Default": "Unable to sign in.",
}


class ErrorPage(t.NamedTuple):
    """What the error page shows for one code, and its status (spec 7.2)."""

    status: int
    heading: str
    message: str
    #: Offer a sign-in link rather than a link home.
    signin: bool = False


#: The error page per lower-cased code (next-auth matches codes case-insensitively).
ERROR_PAGES = {
    "configuration": ErrorPage(
        500,
        "Server error",
        "There is a problem with the server configuration. Check the server logs for more information.",
    ),
    "accessdenied": ErrorPage(403, "Access denied", "You do not have permission to sign in.", signin=True),
    "verification": ErrorPage(
        403,
        "Unable to sign in",
        "The sign in link is no longer valid. It may have been used already or it may have expired.",
        signin=True,
    ),
    "default": ErrorPage(200, "Error", "Something went wrong. Please try again."),
}

#: Characters never allowed in a redirect target: controls, space, backslash (browsers read
#: ``\\`` as ``/`` and drop tabs and newlines, which turns ``/\\evil.com`` into ``//evil.com``).
_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f-\x9f\\]")
#: Longer redirect targets fall back to the base URL (proxies refuse huge Location headers).
MAX_REDIRECT_LENGTH = 4096
_URL_SAFE = "!#$%&'()*+,-./:;=?@[]_~"
#: A host name (letters, digits, ``-``, ``_``, ``.``) or a bracketed IPv6 address, and a port.
_HOST = re.compile(r"(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?")


def _location(url: str) -> str:
    """A URL as an ASCII ``Location`` value: non-ASCII (and quotes, brackets...) percent-encoded."""
    return quote(url, safe=_URL_SAFE)


def _acceptable(url: str) -> bool:
    return bool(url) and len(url) <= MAX_REDIRECT_LENGTH and not _UNSAFE_URL.search(url)


def safe_redirect(url: t.Any, base_url: str) -> str:
    """next-auth's default ``redirect`` callback, hardened against open redirects.

    A single-slash relative path is joined to ``base_url``; an absolute ``http(s)`` URL passes
    only with exactly ``base_url``'s origin (scheme, host and port); everything else gives
    ``base_url``: ``//host``, ``/\\host``, backslashes, control characters, whitespace, other
    schemes (``javascript:``, ``data:``), userinfo tricks (``https://app@evil``), lookalike
    hosts (``https://app.example.com.evil.com``), non-strings.

    :param url: the requested target (``callbackUrl``).
    :param base_url: the app's origin, ``scheme://host[:port]``, no trailing slash.
    :returns: an absolute URL, ASCII-only.
    """
    if not isinstance(url, str) or not _acceptable(url):
        return base_url
    if url.startswith("/"):
        return base_url if url.startswith("//") else _location(base_url + url)
    try:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
    except ValueError:
        return base_url
    if parts.scheme in ("http", "https") and origin == base_url:
        return _location(url)
    return base_url


def base_url_of(config: Config) -> str:
    """The app's origin: ``url``'s (``NEXTAUTH_URL``), else the request's.

    :raises BadRequest: no ``url`` is configured and the ``Host`` header is not a host name or
        address with an optional port (it would end up in redirects and page links).
    """
    if config.url:
        url = config.url if "://" in config.url else "https://" + config.url
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"
    host = request.host
    match = _HOST.fullmatch(host)
    if match is None or (match.group(1) is not None and int(match.group(1)) > 65535):
        raise BadRequest("Invalid Host header.")
    return f"{request.scheme}://{host}"


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


class _Flow:
    """One request through the handler: options, cookies to set, CSRF and callback-URL state."""

    def __init__(self, config: Config, providers: t.Mapping[str, Provider]) -> None:
        self.config = config
        self.providers = providers
        self.secure = config.is_secure(request.scheme)
        #: ``Set-Cookie`` values for the response, in order.
        self.cookies: list[str] = []
        self.base_url = base_url_of(config)
        self.auth_url = self.base_url + request.script_root + config.base_path
        self._csrf_token: str | None = None

    # -- CSRF (next-auth's double submit) --------------------------------------------------------

    @property
    def csrf_token(self) -> str:
        """The request's CSRF token: the cookie's when its hash checks out, else a new one (and
        its cookie). Made only when a route needs it, so reading the session sets no cookie."""
        if self._csrf_token is None:
            spec = self.config.cookie("csrf_token", self.secure)
            secrets = self.config.current_secrets()
            token = token_from_cookie(request_cookies(request.environ).get(spec.name), secrets)
            if token is None:
                token = new_csrf_token()
                value = encode_value(csrf_cookie_value(token, secrets[0]))
                self.cookies.append(set_cookie_header(spec, value))
            self._csrf_token = token
        return self._csrf_token

    def csrf_ok(self) -> bool:
        """Whether the body's ``csrfToken`` equals the (authentic) cookie's token."""
        return verify(self.csrf_token, _form().get("csrfToken"))

    # -- where the user goes next ----------------------------------------------------------------

    def resolve_redirect(self, url: t.Any) -> str:
        """``callbacks.redirect(url=..., base_url=...)``, default :func:`safe_redirect`.

        A custom callback may allow other origins, but what it returns must still be an
        ``http(s)`` URL or a single-slash path; anything else (or an exception) gives the base URL.
        """
        callback = self.config.callbacks.redirect
        if callback is None:
            return safe_redirect(url, self.base_url)
        try:
            out = call_sync(
                callback, url=url if isinstance(url, str) else self.base_url, base_url=self.base_url
            )
        except Exception:
            logger.exception("callbacks.redirect raised: redirecting to the base URL")
            return self.base_url
        if not isinstance(out, str) or not _acceptable(out):
            logger.warning("callbacks.redirect returned an unusable URL: redirecting to the base URL")
            return self.base_url
        if out.startswith("/"):
            return self.base_url if out.startswith("//") else _location(self.base_url + out)
        try:
            parts = urlsplit(out)
            parts.port  # noqa: B018 - raises for a port out of range, which werkzeug cannot send
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            logger.warning("callbacks.redirect returned an unusable URL: redirecting to the base URL")
            return self.base_url
        return _location(out)

    def callback_url(self, param: t.Any = None) -> str:
        """next-auth's callback URL: the ``callbackUrl`` parameter, else the callback-url
        cookie, else the base URL, each through ``callbacks.redirect``. A parameter is kept in
        the cookie, so the URL survives the hops of a failed sign-in (and an OAuth round trip)."""
        spec = self.config.cookie("callback_url", self.secure)
        raw_cookie = request_cookies(request.environ).get(spec.name)
        stored = decode_value(raw_cookie) if raw_cookie else None
        if param:
            url = self.resolve_redirect(param)
            if url != stored:
                self.cookies.append(set_cookie_header(spec, encode_value(url)))
            return url
        if stored:
            return self.resolve_redirect(stored)
        return self.base_url

    def sign_out_url(self, param: t.Any = None) -> str:
        """Where sign-out goes: the ``callbackUrl`` parameter, else the base URL. Unlike
        next-auth, never the callback-url cookie: it holds the last sign-in target, often a
        protected page that would send the user straight back to the sign-in page."""
        return self.resolve_redirect(param) if param else self.base_url

    def callback_param(self) -> t.Any:
        """``callbackUrl`` from the body, else the query."""
        return _form().get("callbackUrl") or request.args.get("callbackUrl")

    def page_url(self, page: str, params: t.Iterable[tuple[str, str]] = ()) -> str:
        """An absolute URL of ``page`` (a path or URL) with ``params``, encoded as next-auth does
        (``encodeURIComponent``), joined with ``&`` when the page already has a query."""
        if "://" in page:
            base = page
        else:
            script = request.script_root
            base = self.base_url + ("" if not script or _under(page, script) else script) + page
        query = "&".join(f"{name}={encode_value(value)}" for name, value in params)
        if not query:
            return base
        return f"{base}{'&' if '?' in base else '?'}{query}"

    def error_url(self, code: str, **extra: str) -> str:
        """``<auth>/error?error=<code>``: the error route picks the page (as in next-auth)."""
        return f"{self.auth_url}/error?{urlencode({'error': code, **extra})}"

    # -- responses ------------------------------------------------------------------------------

    def finish(self, response: Response) -> Response:
        for header in self.cookies:
            response.headers.add("Set-Cookie", header)
        return response

    def json(self, body: t.Any, status: int = 200, headers: t.Mapping[str, str] | None = None) -> Response:
        # Compact, as next-auth's JSON.stringify; default=str so an odd session value is no 500.
        text = json.dumps(body, separators=(",", ":"), default=str)
        response = Response(text, status=status, mimetype="application/json", headers=headers)
        return self.finish(response)

    def redirect(self, location: str) -> Response:
        """302 to ``location``, or ``{"url": location}`` for a POST with ``json=true``."""
        if _wants_json():
            return self.json({"url": location})
        return self.finish(Response(status=302, headers={"Location": location}))

    def page(self, template: str, status: int = 200, **context: t.Any) -> Response:
        html = render_template(
            template,
            csrf_token=self.csrf_token,
            auth_url=self.auth_url,
            base_url=self.base_url,
            **context,
        )
        return self.finish(Response(html, status=status, mimetype="text/html", headers=PAGE_HEADERS))

    def provider_response(self, response: Response) -> Response:
        """A provider's own answer (an OAuth redirect), as ``{"url"}`` for ``json=true``."""
        location = response.headers.get("Location")
        if location and 300 <= response.status_code < 400 and _wants_json():
            answer = self.json({"url": location})
            for header in response.headers.getlist("Set-Cookie"):
                answer.headers.add("Set-Cookie", header)
            return answer
        return self.finish(response)


def _form() -> t.Mapping[str, t.Any]:
    """The POST body: form fields, or a JSON object (what ``next-auth/react``'s ``update`` sends)."""
    if request.method != "POST":
        return {}
    if request.is_json:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}
    return request.form


def _wants_json() -> bool:
    return str(_form().get("json", "")).lower() == "true"


def _unsupported() -> Response:
    text = f"Error: This action with HTTP {request.method} is not supported by NextAuth.js"
    return Response(text, status=400, mimetype="text/plain")


def make_blueprint(state: GuardState) -> Blueprint:
    """The endpoints as a blueprint bound to one app's guard state.

    :raises ConfigurationError: a provider is not usable (checked here, at start-up).
    """
    providers = check_providers(state.config.options.providers, state.config)  # issue 13: bind(config)
    bp = Blueprint("authguard", __name__, template_folder="templates")

    def flow() -> _Flow:
        return _Flow(state.config, providers)

    @bp.errorhandler(ConfigurationError)
    def configuration_error(exc: ConfigurationError) -> Response:
        logger.error("auth endpoint: %s", exc)
        return Response(json.dumps({"message": _SERVER_ERROR}), status=500, mimetype="application/json")

    @bp.errorhandler(BackendUnavailableError)
    def backend_error(exc: BackendUnavailableError) -> Response:
        logger.error("auth endpoint: session store unavailable: %s", exc)
        body = {"message": "The session store is unavailable. Try again shortly."}
        return Response(
            json.dumps(body), status=503, mimetype="application/json", headers={"Retry-After": "5"}
        )

    @bp.before_request
    def need_secret() -> None:
        # The error page needs no secret: it is where a missing secret sends people.
        if request.endpoint == "authguard.error_page":
            return
        if not state.config.current_secrets():
            raise ConfigurationError(NO_SECRET)

    @bp.get("/session")
    def session_get() -> Response:
        f = flow()
        result = read_session(request.environ, state.config)
        f.cookies.extend(result.set_cookies)
        empty: t.Any = {} if state.config.version == 4 else None
        return f.json(result.session if result.session is not None else empty, headers=NO_CACHE)

    @bp.post("/session")
    def session_update() -> Response:
        f = flow()
        if not f.csrf_ok():
            # next-auth: an API route answers 400 {} rather than redirecting.
            return f.json({}, status=400)
        result = read_session(request.environ, state.config, update=_form().get("data"))
        f.cookies.extend(result.set_cookies)
        return f.json(result.session if result.session is not None else {}, headers=NO_CACHE)

    @bp.get("/csrf")
    def csrf() -> Response:
        f = flow()
        return f.json({"csrfToken": f.csrf_token}, headers=NO_CACHE)

    @bp.get("/providers")
    def providers_list() -> Response:
        f = flow()
        body = {
            p.id: {
                "id": p.id,
                "name": p.name,
                "type": p.type,
                "signinUrl": f"{f.auth_url}/signin/{p.id}",
                "callbackUrl": f"{f.auth_url}/callback/{p.id}",
            }
            for p in providers.values()
        }
        return f.json(body)

    @bp.get("/signin")
    def signin_page() -> Response:
        f = flow()
        config = state.config
        callback_url = f.callback_url(request.args.get("callbackUrl"))
        code = request.args.get("error", "")
        if config.options.pages.sign_in:  # type: ignore[union-attr]
            params = [("callbackUrl", callback_url)] + ([("error", code)] if code else [])
            return f.redirect(f.page_url(config.sign_in_page, params))
        return f.page(
            "authguard/signin.html",
            providers=list(providers.values()),
            callback_url=callback_url,
            error_code=code,
            error=SIGNIN_MESSAGES.get(code, SIGNIN_MESSAGES["Default"]) if code else "",
            csrf_failed=request.args.get("csrf") == "true",
        )

    @bp.post("/signin/<provider_id>")
    def signin_start(provider_id: str) -> Response:
        f = flow()
        callback_url = f.callback_url(f.callback_param())
        if not f.csrf_ok():
            return f.redirect(f"{f.auth_url}/signin?csrf=true")
        provider = providers.get(provider_id)
        if provider is None:
            return f.redirect(f"{f.auth_url}/signin?error=Signin")
        try:
            response = provider.begin_sign_in(
                request._get_current_object(),  # type: ignore[attr-defined]
                callback_url=callback_url,
                redirect_uri=f"{f.auth_url}/callback/{provider.id}",
            )
        except SignInError as exc:
            f.cookies.extend(exc.cookies)
            return f.redirect(f.error_url(exc.code, provider=provider.id))
        except BackendUnavailableError:
            raise
        except Exception:
            logger.exception("provider %s failed to start signing in", provider.id)
            return f.redirect(f.error_url("Signin", provider=provider.id))
        if response is None:
            return f.redirect(f"{f.auth_url}/signin")
        return f.provider_response(response)

    @bp.route("/callback/<provider_id>", methods=["GET", "POST"])
    def callback(provider_id: str) -> Response:
        provider = providers.get(provider_id)
        if provider is None or request.method not in provider.callback_methods:
            return _unsupported()
        f = flow()
        callback_url = f.callback_url(f.callback_param())
        if provider.callback_csrf and not f.csrf_ok():
            return f.redirect(f"{f.auth_url}/signin?csrf=true")
        return _sign_in(f, provider, callback_url)

    @bp.get("/signout")
    def signout_page() -> Response:
        f = flow()
        if state.config.options.pages.sign_out:  # type: ignore[union-attr]
            return f.redirect(f.page_url(state.config.sign_out_page))
        return f.page(
            "authguard/signout.html",
            callback_url=f.sign_out_url(request.args.get("callbackUrl")),
            csrf_failed=request.args.get("csrf") == "true",
        )

    @bp.post("/signout")
    def signout() -> Response:
        f = flow()
        callback_url = f.sign_out_url(f.callback_param())
        if not f.csrf_ok():
            return f.redirect(f"{f.auth_url}/signout?csrf=true")
        _sign_out(f)
        return f.redirect(callback_url)

    @bp.get("/error")
    def error_page() -> Response:
        f = flow()
        config = state.config
        code = request.args.get("error") or "Default"
        if code in SIGNIN_ERRORS:
            return f.redirect(f"{f.auth_url}/signin?error={encode_value(code)}")
        if config.options.pages.error:  # type: ignore[union-attr]
            return f.redirect(f.page_url(config.error_page, [("error", code)]))
        page = ERROR_PAGES.get(code.lower(), ERROR_PAGES["default"])
        html = render_template(
            "authguard/error.html",
            auth_url=f.auth_url,
            base_url=f.base_url,
            error_code=code,
            heading=page.heading,
            message=page.message,
            signin=page.signin,
        )
        return Response(html, status=page.status, mimetype="text/html", headers=PAGE_HEADERS)

    @bp.get("/verify-request")
    def verify_request_page() -> Response:  # issue 13: where the email provider sends people
        if not any(p.type == "email" for p in providers.values()):
            return _unsupported()
        f = flow()
        page = state.config.options.pages.verify_request  # type: ignore[union-attr]
        if page:
            return f.redirect(f.page_url(page))
        html = render_template("authguard/verify_request.html", auth_url=f.auth_url, base_url=f.base_url)
        return Response(html, mimetype="text/html", headers=PAGE_HEADERS)

    @bp.post("/_log")
    def client_log() -> Response:
        return flow().json({})

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    @bp.route("/", defaults={"action": ""}, methods=methods)
    @bp.route("/<path:action>", methods=methods)
    def unsupported(action: str) -> Response:
        return _unsupported()

    return bp


def _sign_in(f: _Flow, provider: Provider, callback_url: str) -> Response:
    """Finish a sign-in: the provider's result, ``callbacks.sign_in``, the session, ``events.sign_in``."""
    config = f.config
    form = _form()
    try:
        result = provider.handle_callback(request._get_current_object(), form)  # type: ignore[attr-defined]
    except SignInError as exc:
        f.cookies.extend(exc.cookies)  # issue 13: an OAuth provider clears its check cookies
        return f.redirect(f.error_url(exc.code, provider=provider.id))
    except BackendUnavailableError:
        raise
    except Exception:
        logger.exception("provider %s failed during sign-in", provider.id)
        return f.redirect(f.error_url("Callback", provider=provider.id))
    if result is None:
        code = "CredentialsSignin" if provider.type == "credentials" else "Callback"
        return f.redirect(f.error_url(code, provider=provider.id))
    f.cookies.extend(result.cookies)  # issue 13
    user, account = result.user, result.account
    credentials = (
        {k: v for k, v in form.items() if k not in RESERVED_FIELDS}
        if provider.type == "credentials"
        else None
    )
    try:
        if config.callbacks.sign_in is not None:
            allowed = call_sync(
                config.callbacks.sign_in,
                user=user,
                account=account,
                profile=result.profile,
                credentials=credentials,
            )
            if isinstance(allowed, str):
                return f.redirect(f.resolve_redirect(allowed))
            if not allowed:
                return f.redirect(f.error_url("AccessDenied"))
        # issue 13: OAuth/email providers find or create the adapter's user once sign-in is allowed.
        complete = getattr(provider, "complete_sign_in", None)
        if complete is not None:
            result = complete(result)
            user, account = result.user, result.account
        if config.strategy == "database":
            from ..sessions.database import sign_in_database

            f.cookies.extend(
                sign_in_database(
                    request.environ, config, user, f.secure, account=account, linked=complete is not None
                )
            )
        elif not _sign_in_jwt(f, result):
            return f.redirect(f.error_url("AccessDenied"))
    except SignInError as exc:  # issue 13: OAuthAccountNotLinked, OAuthCreateAccount...
        return f.redirect(f.error_url(exc.code, provider=provider.id))
    except BackendUnavailableError:
        raise
    except Exception:
        logger.exception("signing in with %s failed in a callback or while encoding the token", provider.id)
        return f.redirect(f.error_url("Callback", provider=provider.id))
    fire_event(
        config, "sign_in", user=user, account=account, profile=result.profile, is_new_user=result.is_new_user
    )
    return f.redirect(callback_url)


def _sign_in_jwt(f: _Flow, result: t.Any) -> bool:
    """Issue the session token (``jwt.max_age``) in a cookie that lives ``session.max_age``;
    ``False`` when ``callbacks.jwt`` refused (returned ``None``)."""
    config = f.config
    user = result.user
    claims = {
        key: user[field]
        for key, field in (("name", "name"), ("email", "email"), ("picture", "image"), ("sub", "id"))
        if user.get(field) is not None
    }
    if "sub" in claims:
        claims["sub"] = str(claims["sub"])
    token = call_jwt_callback(
        config,
        claims,
        user=user,
        account=result.account,
        profile=result.profile,
        trigger="signUp" if result.is_new_user else "signIn",  # issue 13: next-auth's OAuth trigger
        is_new_user=result.is_new_user,
    )
    if token is None:
        return False
    spec = config.session_cookie(f.secure)
    salt = config.salt_for(spec.name)
    encoded = encode_token(config, token, config.jwt_max_age, salt)
    f.cookies.extend(
        chunk(
            spec,
            encoded,
            existing=request_cookies(request.environ),
            chunk_size=config.chunk_size,
            expires=_clock.now() + config.session_max_age,
        )
    )
    return True


def _sign_out(f: _Flow) -> None:
    """next-auth's sign-out: ``events.sign_out`` (when there was a session cookie), then every
    session cookie and chunk deleted."""
    config = f.config
    spec = config.session_cookie(f.secure)
    cookies = request_cookies(request.environ)
    if config.strategy == "database":
        from ..sessions.database import sign_out_database

        session = sign_out_database(request.environ, config, spec)
        fire_event(config, "sign_out", session=session)
    else:
        candidates = session_values(cookies, spec.name)
        if candidates:
            token = decode_session_cookie(request.environ, config, candidates, spec.name)
            fire_event(config, "sign_out", token=token)
    f.cookies.extend(clean(spec, existing=cookies))
    # The next person on this browser must not inherit the last sign-in target.
    callback_spec = config.cookie("callback_url", f.secure)
    if callback_spec.name in cookies:
        f.cookies.append(delete_cookie_header(callback_spec))
