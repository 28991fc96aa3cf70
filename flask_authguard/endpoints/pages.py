"""The built-in pages (sign-in, sign-out, error, 403), rendered with Jinja2 and no framework, and
the answers that are not redirects (429, 400, 413, 503): the error page's layout, or JSON.

The templates live in ``endpoints/templates/authguard/``. An app overrides one by providing a
template of the same name (``authguard/signin.html``...): through ``extra_loader`` (any Jinja2
loader, e.g. ``FileSystemLoader("templates")``), or, in Flask, through the app's own template
folders, since :class:`~flask_authguard.AuthGuard` renders with an overlay of the app's Jinja
environment.
"""

from __future__ import annotations

import json
import threading
import typing as t

from jinja2 import BaseLoader, ChoiceLoader, Environment, PackageLoader, select_autoescape
from werkzeug.wrappers import Response

from ..core.defences.urls import mount_path
from ..core.http.clients import answers_json
from ..core.http.cookies import encode_value
from .messages import ERROR_PAGES, PAGE_HEADERS, ErrorPage

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
    from werkzeug.exceptions import HTTPException

    from ..core.settings.config import Config

#: The headers of JSON notices: an answer about this one request, never cached.
NO_STORE = {"Cache-Control": "no-store"}
#: The package's own templates, the last place a page is looked up.
BUILT_IN = PackageLoader("flask_authguard.endpoints", "templates")


class Pages:
    """Renders the endpoints' pages.

    :param extra_loader: looked up before the built-in templates, so its pages win.
    :param parent: a function returning the Jinja environment to render in (Flask: the app's
        ``jinja_env``, so its globals and filters work in overrides); called at the first render.
    :param update_context: called with each page's context before rendering (Flask: the app's
        ``update_template_context``, so context processors run).
    """

    def __init__(
        self,
        extra_loader: BaseLoader | None = None,
        *,
        parent: t.Callable[[], Environment] | None = None,
        update_context: t.Callable[[dict[str, t.Any]], None] | None = None,
    ) -> None:
        self._extra = extra_loader
        self._parent = parent
        self._update_context = update_context
        self._env: Environment | None = None
        self._lock = threading.Lock()

    @property
    def environment(self) -> Environment:
        """The Jinja environment, made at the first render."""
        if self._env is None:
            with self._lock:
                if self._env is None:
                    self._env = self._make_environment()
        return self._env

    def _make_environment(self) -> Environment:
        loaders: list[BaseLoader] = [self._extra] if self._extra is not None else []
        if self._parent is not None:
            parent = self._parent()
            if parent.loader is not None:
                loaders.append(parent.loader)
            return parent.overlay(loader=ChoiceLoader([*loaders, BUILT_IN]))
        return Environment(
            loader=ChoiceLoader([*loaders, BUILT_IN]),
            autoescape=select_autoescape(["html", "htm", "xml"]),
            auto_reload=False,
        )

    def render(self, template: str, **context: t.Any) -> str:
        """The HTML of ``template`` with ``context``."""
        if self._update_context is not None:
            self._update_context(context)
        return self.environment.get_template(template).render(context)

    def response(self, template: str, status: int = 200, **context: t.Any) -> Response:
        """``template`` as an HTML response with the pages' headers (no-store, no framing)."""
        html = self.render(template, **context)
        return Response(html, status=status, mimetype="text/html", headers=PAGE_HEADERS)

    def error(self, code: str, *, auth_url: str, base_url: str, signin_url: str | None = None) -> Response:
        """The error page for ``code`` (``Configuration``, ``AccessDenied``...) with its status.

        :param signin_url: where its sign-in link goes (default ``<auth_url>/signin``).
        """
        page = ERROR_PAGES.get(code.lower(), ERROR_PAGES["default"])
        return self.notice(page, code, auth_url=auth_url, base_url=base_url, signin_url=signin_url)

    def notice(
        self,
        page: ErrorPage,
        code: str,
        *,
        auth_url: str,
        base_url: str,
        signin_url: str | None = None,
        message: str | None = None,
    ) -> Response:
        """``page`` (its status, heading and message, or ``message``) in the error page's
        template: the layout of every page the library answers, with a link back to sign-in
        (``signin_url``, default ``<auth_url>/signin``) or home (``<base_url>/``)."""
        return self.response(
            "authguard/error.html",
            page.status,
            auth_url=auth_url,
            base_url=base_url,
            error_code=code,
            heading=page.heading,
            message=message or page.message,
            signin=page.signin,
            signin_url=signin_url or auth_url + "/signin",
        )


def notice_json(page: ErrorPage, code: str, message: str | None = None, **extra: t.Any) -> Response:
    """``page`` for a JSON client: ``{"error": code, "message": ...}`` (and ``extra``) with its
    status, never cached."""
    body = {"error": code, "message": message or page.message, **extra}
    text = json.dumps(body, separators=(",", ":"))
    return Response(text, status=page.status, mimetype="application/json", headers=NO_STORE)


def http_error_answer(
    exc: HTTPException, environ: WSGIEnvironment, config: Config, pages: Pages | None = None
) -> Response:
    """The answer to a werkzeug HTTP error the library raises (400 bad ``Host``, 413 body too
    large): JSON for JSON clients (decided on the headers alone: the body may be the problem),
    else a page in the common layout."""
    code = (exc.name or "Error").replace(" ", "")
    page = ErrorPage(exc.code or 400, exc.name, exc.description or exc.name, signin=True)
    if answers_json(config, environ):
        return notice_json(page, code)
    return page_notice(environ, config, page, code, pages=pages)


def page_notice(
    environ: WSGIEnvironment,
    config: Config,
    page: ErrorPage,
    code: str,
    *,
    callback: str | None = None,
    message: str | None = None,
    pages: Pages | None = None,
) -> Response:
    """``page`` with links relative to the app's mount point (no ``Host`` header in them: it
    may be the problem): sign-in, with ``callback`` as its ``callbackUrl``, or home. The mount
    point goes through :func:`~flask_authguard.core.defences.urls.mount_path`: ``SCRIPT_NAME``
    may come from the client, and ``//evil.example`` must not make a link protocol-relative."""
    mount = mount_path(environ.get("SCRIPT_NAME", ""))
    auth_url = mount + config.base_path
    signin_url = auth_url + "/signin"
    if callback:
        signin_url += "?callbackUrl=" + encode_value(callback)
    return (pages or default_pages()).notice(
        page, code, auth_url=auth_url, base_url=mount, signin_url=signin_url, message=message
    )


_default: Pages | None = None


def default_pages() -> Pages:
    """The built-in pages, shared by everything that has no pages of its own."""
    global _default
    if _default is None:
        _default = Pages()
    return _default


def forbidden_response(
    environ: WSGIEnvironment, config: Config, pages: Pages | None = None, *, callback: str | None = None
) -> Response:
    """The default 403 page for a signed-in user who may not see a page: a way home and a way
    to sign out (then back to ``callback``, this page, so another account can sign in to it).
    Links are relative to the app's mount point (no Host header in them), through
    :func:`~flask_authguard.core.defences.urls.mount_path` as :func:`page_notice`'s are."""
    mount = mount_path(environ.get("SCRIPT_NAME", ""))
    signout_url = mount + config.base_path + "/signout"
    if callback:
        signout_url += "?callbackUrl=" + encode_value(callback)
    return (pages or default_pages()).response(
        "authguard/forbidden.html", 403, home_url=mount + "/", signout_url=signout_url
    )
