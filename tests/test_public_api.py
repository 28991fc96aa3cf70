"""The package's import surface (issue 29, item 5).

- Every public module lists its public names in ``__all__``: each exists, none is a module or a
  stdlib/third-party object (``os``, ``base64``, ``AESGCM`` once leaked through bare ``import *``
  re-export modules), and nothing the module defines (or, for a package, imports) is left out.
- No module of the package (or of ``examples/``) uses ``import *``, or imports a ``_private`` name
  from another module; the only private modules shared across the package are the listed seams.
- Every ``flask_authguard.<dotted>`` path that README.rst, the docs (``docs/**/*.rst``) or a
  docstring in the package names resolves; their ``from flask_authguard.x import ...`` lines
  import names from ``x.__all__``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pathlib
import re
import types
import typing as t

import pytest

import flask_authguard

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flask_authguard"
README = ROOT / "README.rst"
#: The prose users read: the README and the manual's pages (the API pages are generated).
MANUAL = [README, *sorted(p for p in (ROOT / "docs").rglob("*.rst") if "_build" not in p.parts)]

#: The import paths users write: the package, its sub-packages with an API, and every module
#: README.rst, the docs or ``examples/`` tell users to import from. Each has a page in the API
#: reference (``docs/conf.py``'s ``API_MODULES``; ``tests/docs/test_docs.py`` checks).
PUBLIC_MODULES = [
    "flask_authguard",
    "flask_authguard.testing",
    "flask_authguard.adapters",
    "flask_authguard.adapters.sqlalchemy",
    "flask_authguard.asgi",
    "flask_authguard.asgi.fastapi",
    "flask_authguard.core.http.cookies",
    "flask_authguard.core.errors",
    "flask_authguard.core.tokens.hooks",
    "flask_authguard.core.tokens.jwt",
    "flask_authguard.core.matcher",
    "flask_authguard.core.settings.options",
    "flask_authguard.core.two_factor",
    "flask_authguard.flask.testing",
    "flask_authguard.providers",
    "flask_authguard.sessions",
    "flask_authguard.wsgi.middleware",
]

#: Modules the docs name in their design notes (what lives where), not as paths to import from.
DESIGN_REFERENCES = {
    "flask_authguard.adapters.watchdog",
    "flask_authguard.asgi.later_check",
    "flask_authguard.endpoints",
    "flask_authguard.sessions.accounts",
    "flask_authguard.sessions.revoke",
}

#: Private modules shared across the package on purpose: the clock tests freeze, the sync/async
#: bridge, and the providers' Authlib and HTTP plumbing. Any other ``_name`` stays in its module.
SHARED_PRIVATE_MODULES = {
    "flask_authguard.core._clock",
    "flask_authguard.core._compat",
    "flask_authguard.providers._authlib",
    "flask_authguard.providers._http",
}

#: The top-level modules that only re-exported another module with ``import *``: removed.
REMOVED_REEXPORTS = ["cookies", "errors", "hooks", "jwt", "matcher", "middleware", "options"]

#: A dotted path in prose or a docstring (a string literal such as an environ key is not one).
DOTTED = re.compile(r"(?<![\"'])\bflask_authguard(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def _is_package_object(obj: object) -> bool:
    return str(getattr(obj, "__module__", "")).startswith("flask_authguard")


def _resolve(path: str) -> tuple[types.ModuleType, list[str], object]:
    """The deepest importable module of ``path``, the attribute names after it, and the object."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        obj: object = module
        for name in parts[cut:]:
            obj = getattr(obj, name)  # AttributeError: the path names nothing
        return module, parts[cut:], obj
    raise ModuleNotFoundError(path)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_module_all_is_explicit_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__dict__.get("__all__")
    assert exported is not None, f"{name} has no __all__"
    assert len(exported) == len(set(exported)), f"{name}.__all__ lists a name twice"
    is_package = hasattr(module, "__path__")
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names {attr!r}, which it does not define"
        obj = getattr(module, attr)
        assert not inspect.ismodule(obj), f"{name}.__all__ exports the module {attr!r}"
        if inspect.isclass(obj) or inspect.isroutine(obj):
            assert _is_package_object(obj), f"{name}.__all__ leaks {attr!r} from {obj.__module__}"
    for attr, obj in vars(module).items():
        if attr.startswith("_") or attr in exported:
            continue
        if inspect.ismodule(obj) or type(obj).__module__ == "__future__":  # `annotations`
            continue
        if is_package:  # a package's namespace is its API: everything it imports is listed
            defined_here = _is_package_object(obj) or not (inspect.isclass(obj) or inspect.isroutine(obj))
        else:  # a module's own classes and functions are public unless named _private
            defined_here = (inspect.isclass(obj) or inspect.isroutine(obj)) and obj.__module__ == name
        assert not defined_here, f"{name} defines public {attr!r} but __all__ leaves it out"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_star_import_gives_exactly_all(name: str) -> None:
    namespace: dict[str, t.Any] = {}
    exec(f"from {name} import *", namespace)  # noqa: S102
    namespace.pop("__builtins__")
    assert set(namespace) == set(importlib.import_module(name).__all__)
    assert not {"os", "base64", "json", "AESGCM", "annotations", "t"} & set(namespace)


def test_package_exports_stay_importable_from_the_top() -> None:
    # Everything ``from flask_authguard import X`` gave before item 5 still does.
    before = {
        "AuthCore", "AuthEndpoints", "AuthGuard", "auth_required", "get_server_session", "with_auth",
        "AuthGuardError", "AuthOptions", "BackendUnavailableError", "Callbacks", "ConfigurationError",
        "CookieOption", "CredentialsProvider", "CookiesOptions", "DiscordProvider", "EmailProvider",
        "Events", "GitHubProvider", "GitLabProvider", "GoogleProvider", "MicrosoftEntraIDProvider",
        "InvalidTokenError", "JWTOptions", "OAuthProvider", "OIDCProvider", "Pages", "Provider",
        "SessionOptions", "SignInError", "SignInResult", "ThrottleOptions", "TOKEN_ENVIRON_KEY",
        "TokenError", "TokenExpiredError", "decode", "encode", "get_token",
    }  # fmt: skip
    assert before <= set(flask_authguard.__all__)
    namespace: dict[str, t.Any] = {}
    exec("from flask_authguard import *", namespace)  # noqa: S102
    assert before <= set(namespace)


@pytest.mark.parametrize("name", REMOVED_REEXPORTS)
def test_reexport_modules_are_gone(name: str) -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"flask_authguard.{name}")


def _sources() -> list[pathlib.Path]:
    return sorted([*PACKAGE.rglob("*.py"), *(ROOT / "examples").rglob("*.py")])


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(path: pathlib.Path, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved against ``path``)."""
    if not node.level:
        return node.module or ""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _import_problems(path: pathlib.Path, source: str | None = None) -> list[str]:
    """Cross-module imports of private names, private modules and ``*`` in the file at ``path``
    (its text, or ``source`` read as if it were that file)."""
    problems = []
    text = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(path, node)
            if source.split(".")[0] != "flask_authguard":
                continue  # _typeshed and the like: not ours
            if any(_private(part) for part in source.split(".")) and source not in SHARED_PRIVATE_MODULES:
                problems.append(f"{path}:{node.lineno}: imports from private module {source}")
            for alias in node.names:
                if alias.name == "*":
                    problems.append(f"{path}:{node.lineno}: from {source} import *")
                elif _private(alias.name) and f"{source}.{alias.name}" not in SHARED_PRIVATE_MODULES:
                    problems.append(f"{path}:{node.lineno}: imports private {alias.name} from {source}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                ours = alias.name.split(".")[0] == "flask_authguard"
                private = any(_private(part) for part in alias.name.split("."))
                if ours and private and alias.name not in SHARED_PRIVATE_MODULES:
                    problems.append(f"{path}:{node.lineno}: imports private module {alias.name}")
    return problems


def test_no_private_name_or_star_imported_across_modules() -> None:
    problems = [problem for path in _sources() for problem in _import_problems(path)]
    assert problems == []


def test_private_import_check_catches_each_form() -> None:
    # The check above must see every spelling, or its empty list proves nothing.
    module = PACKAGE / "core" / "probe.py"
    probe = (
        "from .tokens.claims import _private_thing\n"
        "from ..wsgi.middleware import *\n"
        "from . import _clock\n"
        "from ._compat import call_sync\n"
        "from .matcher._hidden import x\n"
        "from flask_authguard.core.settings.options import _mask\n"
        "import flask_authguard.core._hidden\n"
        "from _typeshed.wsgi import WSGIEnvironment\n"
    )
    assert _import_problems(module, probe) == [
        f"{module}:1: imports private _private_thing from flask_authguard.core.tokens.claims",
        f"{module}:2: from flask_authguard.wsgi.middleware import *",
        f"{module}:5: imports from private module flask_authguard.core.matcher._hidden",
        f"{module}:6: imports private _mask from flask_authguard.core.settings.options",
        f"{module}:7: imports private module flask_authguard.core._hidden",
    ]


def _readme_paths() -> list[str]:
    return sorted({path for page in MANUAL for path in DOTTED.findall(page.read_text(encoding="utf-8"))})


@pytest.mark.parametrize("path", _readme_paths())
def test_readme_dotted_paths_resolve(path: str) -> None:
    module, names, _ = _resolve(path)
    if module.__name__ in DESIGN_REFERENCES:
        return
    exported = module.__dict__.get("__all__")
    assert exported is not None, f"README names {path}, but {module.__name__} has no __all__"
    assert module.__name__ in PUBLIC_MODULES
    if names:
        assert names[0] in exported, f"README names {path}, not in {module.__name__}.__all__"


README_IMPORT = re.compile(r"^\s*from (flask_authguard[\w.]*) import ([\w, ]+)$", re.MULTILINE)


def test_readme_import_lines_use_all() -> None:
    lines = [line for page in MANUAL for line in README_IMPORT.findall(page.read_text(encoding="utf-8"))]
    assert len(lines) >= 10
    for module_name, names in lines:
        module = importlib.import_module(module_name)
        for name in (n.strip() for n in names.split(",")):
            assert name in module.__all__, f"README: from {module_name} import {name}"


def _docstring_paths() -> list[tuple[str, str]]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for dotted in DOTTED.findall(path.read_text(encoding="utf-8")):
            found.add((str(path.relative_to(ROOT)), dotted))
    return sorted(found)


@pytest.mark.parametrize(("where", "path"), _docstring_paths())
def test_paths_named_in_the_package_resolve(where: str, path: str) -> None:
    _resolve(path)  # raises if a docstring or message names a module or name that is not there


VERSION_NOTE = re.compile(r"\.\. version(?:added|changed):: (\d+(?:\.\d+)*)")


def test_version_notes_do_not_name_a_future_version() -> None:
    current = tuple(int(n) for n in flask_authguard.__version__.split(".")[:2])
    later = [
        f"{path.relative_to(ROOT)}: {version}"
        for path in PACKAGE.rglob("*.py")
        for version in VERSION_NOTE.findall(path.read_text(encoding="utf-8"))
        if tuple(int(n) for n in version.split(".")[:2]) > current
    ]
    assert later == []
