"""One request through the endpoints: its options, the cookies to set, CSRF and where to go next."""

from __future__ import annotations

import json
import logging
import typing as t
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from ..core._compat import call_sync
from ..core.defences.csrf import csrf_cookie_value, new_csrf_token, token_from_cookie, verify
from ..core.defences.urls import (
    AUTH_URL_ENVIRON_KEY,
    base_url_of,
    checked_target,
    mount_path,
    safe_redirect,
    under,
)
from ..core.http.clients import answers_json
from ..core.http.cookies import decode_value, encode_value, set_cookie_header
from ..core.tokens.request_token import request_cookies
from .body import read_body
from .messages import NOTICES
from .pages import notice_json

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from ..core.settings.config import Config
    from ..providers.base import Provider
    from .pages import Pages

logger = logging.getLogger("flask_authguard")


class Flow:
    """The state of one request through the handler.

    :param script_root: the app's mount point (``SCRIPT_NAME``), without the auth base path.
    :raises SecurityError: ``trusted_hosts`` does not list the request's host.
    :raises BadRequest: the ``Host`` header is unusable and no ``url`` is configured.
    """

    def __init__(
        self,
        request: Request,
        config: Config,
        providers: t.Mapping[str, Provider],
        pages: Pages,
        script_root: str,
    ) -> None:
        self.request = request
        self.config = config
        self.providers = providers
        self.pages = pages
        self.script_root = script_root
        self.secure = config.is_secure(request.scheme)
        #: ``Set-Cookie`` values for the response, in order.
        self.cookies: list[str] = []
        origin = base_url_of(config, request)
        #: Whether links may be absolute: ``False`` when no trusted origin is configured and the
        #: host is not loopback; then links are relative and only the routes that build none
        #: (and the Configuration error) answer.
        self.trusted = origin is not None
        #: The origin links are built on (``""`` when not :attr:`trusted`).
        self.base_url = origin or ""
        #: The auth routes' URL: origin, mount point, base path.
        self.auth_url = self.base_url + mount_path(script_root) + config.base_path
        # The OAuth callback's redirect_uri must be the one its first step sent: this one.
        request.environ[AUTH_URL_ENVIRON_KEY] = self.auth_url
        self._csrf_token: str | None = None
        self._form: t.Mapping[str, t.Any] | None = None

    @property
    def environ(self) -> t.Any:
        return self.request.environ

    @property
    def form(self) -> t.Mapping[str, t.Any]:
        """The POST body (form or JSON object), read once, size- and depth-limited."""
        if self._form is None:
            self._form = read_body(self.request)
        return self._form

    def wants_json(self) -> bool:
        """A POST with ``json=true``: fetch-based clients (``next-auth/react``) want ``{"url"}``."""
        return str(self.form.get("json", "")).lower() == "true"

    def json_client(self) -> bool:
        """Whether an answer that is not a redirect (a refusal, a notice) is JSON: a ``json=true``
        POST, or an API client (:func:`~flask_authguard.core.http.clients.answers_json`)."""
        return self.wants_json() or answers_json(self.config, self.environ)

    # -- CSRF (next-auth's double submit) --------------------------------------------------------

    @property
    def csrf_token(self) -> str:
        """The request's CSRF token: the cookie's when its hash checks out, else a new one (and
        its cookie). Made only when a route needs it, so reading the session sets no cookie."""
        if self._csrf_token is None:
            spec = self.config.cookie("csrf_token", self.secure)
            secrets = self.config.current_secrets()
            token = token_from_cookie(request_cookies(self.environ).get(spec.name), secrets)
            if token is None:
                token = new_csrf_token()
                value = encode_value(csrf_cookie_value(token, secrets[0]))
                self.cookies.append(set_cookie_header(spec, value))
            self._csrf_token = token
        return self._csrf_token

    def csrf_ok(self) -> bool:
        """Whether the body's ``csrfToken`` equals the (authentic) cookie's token."""
        return verify(self.csrf_token, self.form.get("csrfToken"))

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
        target = checked_target(out, self.base_url)
        if target is None:
            logger.warning("callbacks.redirect returned an unusable URL: redirecting to the base URL")
            return self.base_url
        return target

    def callback_url(self, param: t.Any = None) -> str:
        """next-auth's callback URL: the ``callbackUrl`` parameter, else the callback-url
        cookie, else the base URL, each through ``callbacks.redirect``. A parameter is kept in
        the cookie, so the URL survives the hops of a failed sign-in (and an OAuth round trip)."""
        spec = self.config.cookie("callback_url", self.secure)
        raw_cookie = request_cookies(self.environ).get(spec.name)
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
        return self.form.get("callbackUrl") or self.request.args.get("callbackUrl")

    def page_url(self, page: str, params: t.Iterable[tuple[str, str]] = ()) -> str:
        """An absolute URL of ``page`` (a path or URL) with ``params``, encoded as next-auth does
        (``encodeURIComponent``), joined with ``&`` when the page already has a query."""
        if "://" in page:
            base = page
        else:
            script = self.script_root
            mount = "" if not script or under(page, script) else mount_path(script)
            base = self.base_url + mount + page
        query = "&".join(f"{name}={encode_value(value)}" for name, value in params)
        if not query:
            return base
        return f"{base}{'&' if '?' in base else '?'}{query}"

    def signin_link(self, callback_url: str | None = None) -> str:
        """The sign-in page's URL, for the way back from a notice: with ``callback_url``, else
        the query's ``callbackUrl`` (checked), as its ``callbackUrl`` when there is one."""
        if callback_url is None:
            param = self.request.args.get("callbackUrl")
            callback_url = self.resolve_redirect(param) if param else None
        link = f"{self.auth_url}/signin"
        return f"{link}?callbackUrl={encode_value(callback_url)}" if callback_url else link

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

    def redirect(self, location: str, *, json_status: int = 200) -> Response:
        """302 to ``location``, or ``{"url": location}`` for a POST with ``json=true``, with
        ``json_status`` (next-auth answers a refused sign-in 401 or 403 there, and its client
        reads ``res.ok``)."""
        if self.wants_json():
            return self.json({"url": location}, status=json_status)
        return self.finish(Response(status=302, headers={"Location": location}))

    def page(self, template: str, status: int = 200, **context: t.Any) -> Response:
        """A built-in page with the CSRF token and the base URLs in its context."""
        response = self.pages.response(
            template,
            status,
            csrf_token=self.csrf_token,
            auth_url=self.auth_url,
            base_url=self.base_url,
            **context,
        )
        return self.finish(response)

    def notice(
        self,
        code: str,
        *,
        callback_url: str | None = None,
        headers: t.Mapping[str, str] | None = None,
        json_extra: t.Mapping[str, t.Any] | None = None,
        force_json: bool = False,
        **fields: t.Any,
    ) -> Response:
        """The answer :data:`~.messages.NOTICES` has for ``code`` (its message filled with
        ``fields``): ``{"error", "message"}`` (and ``json_extra``) for JSON clients (and for
        anyone with ``force_json``: a JSON route), else the page, with a link back to sign-in
        (keeping ``callback_url`` or the query's)."""
        page = NOTICES[code]
        message = page.message.format(**fields)
        if force_json or self.json_client():
            response = notice_json(page, code, message, **(json_extra or {}))
        else:
            link = self.signin_link(callback_url)
            response = self.pages.notice(
                page, code, auth_url=self.auth_url, base_url=self.base_url, signin_url=link, message=message
            )
        response.headers.update(headers or {})
        return self.finish(response)

    def provider_response(self, response: Response) -> Response:
        """A provider's own answer (an OAuth redirect), as ``{"url"}`` for ``json=true``."""
        location = response.headers.get("Location")
        if location and 300 <= response.status_code < 400 and self.wants_json():
            answer = self.json({"url": location})
            for header in response.headers.getlist("Set-Cookie"):
                answer.headers.add("Set-Cookie", header)
            return answer
        return self.finish(response)


def unsupported(f: Flow) -> Response:
    """next-auth's 400 for a method or action it does not serve (next-auth's is plain text):
    JSON for JSON clients, else a page with the way back to sign-in."""
    return f.notice("UnknownAction", method=f.request.method)
