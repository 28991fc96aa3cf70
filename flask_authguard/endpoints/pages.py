"""The built-in pages (sign-in, sign-out, error, 403), rendered with Jinja2 and no framework.

The templates live in ``endpoints/templates/authguard/``. An app overrides one by providing a
template of the same name (``authguard/signin.html``...): through ``extra_loader`` (any Jinja2
loader, e.g. ``FileSystemLoader("templates")``), or, in Flask, through the app's own template
folders, since :class:`~flask_authguard.AuthGuard` renders with an overlay of the app's Jinja
environment.
"""

from __future__ import annotations

import threading
import typing as t

from jinja2 import BaseLoader, ChoiceLoader, Environment, PackageLoader, select_autoescape
from werkzeug.wrappers import Response

from .messages import ERROR_PAGES, PAGE_HEADERS

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from ..core.config import Config

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

    def error(self, code: str, *, auth_url: str, base_url: str) -> Response:
        """The error page for ``code`` (``Configuration``, ``AccessDenied``...) with its status."""
        page = ERROR_PAGES.get(code.lower(), ERROR_PAGES["default"])
        return self.response(
            "authguard/error.html",
            page.status,
            auth_url=auth_url,
            base_url=base_url,
            error_code=code,
            heading=page.heading,
            message=page.message,
            signin=page.signin,
        )


_default: Pages | None = None


def default_pages() -> Pages:
    """The built-in pages, shared by everything that has no pages of its own."""
    global _default
    if _default is None:
        _default = Pages()
    return _default


def forbidden_response(environ: WSGIEnvironment, config: Config, pages: Pages | None = None) -> Response:
    """The default 403 page for a signed-in user who may not see a page: a way home and a way
    to sign out. Links are relative to the app's mount point (no Host header in them)."""
    script = environ.get("SCRIPT_NAME", "").rstrip("/")
    response = (pages or default_pages()).response(
        "authguard/forbidden.html",
        403,
        home_url=script + "/",
        signout_url=script + config.base_path + "/signout",
    )
    return response
