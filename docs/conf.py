"""Sphinx configuration: the flask_authguard manual (``sphinx-build -W -b html docs docs/_build/html``)."""

from __future__ import annotations

import importlib
import inspect
import pathlib
import sys

from docutils import nodes
from pallets_sphinx_themes import ProjectLink
from sphinx.application import Sphinx
from sphinx.errors import PycodeError
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's package, installed or not

import flask_authguard  # noqa: E402

project = "flask_authguard"
copyright = "flask_authguard contributors"
author = "flask_authguard contributors"
release = flask_authguard.__version__
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc", "sphinx.ext.extlinks", "pallets_sphinx_themes"]
exclude_patterns = ["_build"]
default_role = "code"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

#: The repository, in one place: ``:source:`bench/results.md``` links to a file on its main branch.
REPOSITORY = "https://github.com/flask-authguard/flask-authguard"
extlinks = {"source": (f"{REPOSITORY}/blob/main/%s", "%s"), "issue": (f"{REPOSITORY}/issues/%s", "#%s")}

html_theme = "flask"
html_theme_options = {"index_sidebar_logo": False}
html_context = {
    "project_links": [
        ProjectLink("PyPI Releases", "https://pypi.org/project/flask-authguard/"),
        ProjectLink("Source Code", f"{REPOSITORY}/"),
        ProjectLink("Issue Tracker", f"{REPOSITORY}/issues/"),
    ]
}
html_sidebars = {
    "index": ["project.html", "localtoc.html", "searchbox.html"],
    "**": ["localtoc.html", "relations.html", "searchbox.html"],
}
singlehtml_sidebars = {"index": ["project.html", "localtoc.html"]}
html_title = f"flask_authguard Documentation ({version})"
html_show_sourcelink = False

# The link checker (``-b linkcheck``) is run on our own pages only: CI has no network.
linkcheck_ignore = [r"https?://.*"]


#: The public modules, one API page each (``docs/api/<module>.rst``), in the order they are
#: documented: a name exported by several (``flask_authguard.AuthGuard`` and the module that defines
#: it) is documented in the first and cross-referenced from the others.
#: ``tests/docs/test_docs.py`` checks this is ``tests/test_public_api.py``'s ``PUBLIC_MODULES``.
API_MODULES = [
    "flask_authguard",
    "flask_authguard.testing",
    "flask_authguard.flask.testing",
    "flask_authguard.wsgi.middleware",
    "flask_authguard.asgi",
    "flask_authguard.asgi.fastapi",
    "flask_authguard.providers",
    "flask_authguard.sessions",
    "flask_authguard.adapters",
    "flask_authguard.adapters.sqlalchemy",
    "flask_authguard.core.settings.options",
    "flask_authguard.core.tokens.jwt",
    "flask_authguard.core.tokens.hooks",
    "flask_authguard.core.http.cookies",
    "flask_authguard.core.matcher",
    "flask_authguard.core.two_factor",
    "flask_authguard.core.errors",
]


def _defined_docs(name: str, obj: object) -> tuple[str, list[str]]:
    """Where the data ``name`` is assigned in the package, and its ``#:`` documentation there."""
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("flask_authguard") or getattr(module, name, None) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(module_name).find_attr_docs()
        except PycodeError:
            continue
        if ("", name) in docs:
            return module_name, [line for line in docs["", name] if line.strip()]
    return "", []


class PublicModule(SphinxDirective):
    """``.. public-module:: flask_authguard.x``: the module's ``__all__``, documented by autodoc.

    A name an earlier module of :data:`API_MODULES` already documents is listed as a
    cross-reference instead of documented twice, so a name added to a module's ``__all__`` shows
    up on its page without editing the page, and never as a duplicate. Data the module imports
    (a constant, a type alias) is documented here with the comment where it is assigned, since
    autodoc only documents the data a module assigns itself.
    """

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        module = importlib.import_module(name)
        earlier: dict[tuple[str, int], str] = {}
        for other in API_MODULES[: API_MODULES.index(name)]:
            other_module = importlib.import_module(other)
            for attr in other_module.__all__:
                earlier.setdefault((attr, id(getattr(other_module, attr))), f"{other}.{attr}")
        shared = [attr for attr in module.__all__ if (attr, id(getattr(module, attr))) in earlier]
        assigned = ModuleAnalyzer.for_module(name).find_attr_docs()
        imported_data = [
            attr
            for attr in module.__all__
            if attr not in shared
            and ("", attr) not in assigned
            and not (inspect.isclass(getattr(module, attr)) or inspect.isroutine(getattr(module, attr)))
        ]
        lines = [f".. automodule:: {name}", "   :members:"]
        if shared or imported_data:
            lines.append(f"   :exclude-members: {', '.join(shared + imported_data)}")
        lines += ["", f".. py:currentmodule:: {name}", ""]
        for attr in imported_data:
            where, doc = _defined_docs(attr, getattr(module, attr))
            lines += [f".. py:data:: {attr}", ""]
            lines += [f"   {line}" for line in doc] or [f"   Assigned in ``{where or name}``."]
            lines.append("")
        if shared:
            refs = ", ".join(f":obj:`{earlier[attr, id(getattr(module, attr))]}`" for attr in shared)
            lines += [f"Also exported here, documented where first listed: {refs}.", ""]
        return self.parse_text_to_nodes("\n".join(lines))


def setup(app: Sphinx) -> None:
    app.add_directive("public-module", PublicModule)
