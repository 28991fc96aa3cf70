"""The manual's structure (``docs/``): what ``sphinx-build -W`` cannot see by itself.

CI builds the site with warnings as errors and runs the link checker on our own pages
(``.ci/run``); these checks are quick and run with the suite:

- every public module (``tests/test_public_api.py``'s ``PUBLIC_MODULES``) has its API page, and
  the API index lists each;
- every how-to page shows the code of an example that exists (a ``literalinclude`` of
  ``examples/...``), and the how-to index lists every page;
- the commands of the CLI page run.
"""

from __future__ import annotations

import ast
import pathlib
import re
import subprocess
import sys

import pytest
from support import ROOT
from test_public_api import PUBLIC_MODULES

DOCS = ROOT / "docs"


def conf_list(name: str) -> list[str]:
    """A list literal assigned in ``docs/conf.py`` (read, not imported: no Sphinx needed)."""
    for node in ast.parse((DOCS / "conf.py").read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError(f"docs/conf.py assigns no {name}")


def test_every_public_module_has_an_api_page() -> None:
    modules = conf_list("API_MODULES")
    assert modules[0] == "flask_authguard"  # the package's names are documented first, once
    assert sorted(modules) == sorted(PUBLIC_MODULES)
    index = (DOCS / "api" / "index.rst").read_text(encoding="utf-8")
    for module in modules:
        page = (DOCS / "api" / f"{module}.rst").read_text(encoding="utf-8")
        assert f".. public-module:: {module}\n" in page
        assert f"\n   {module}\n" in index


HOWTO = sorted(p for p in (DOCS / "howto").glob("*.rst") if p.name != "index.rst")
INCLUDE = re.compile(r"^\.\. literalinclude:: (\S+)$", re.MULTILINE)


@pytest.mark.parametrize("page", HOWTO, ids=[p.stem for p in HOWTO])
def test_each_howto_page_shows_a_runnable_example(page: pathlib.Path) -> None:
    if page.stem == "cli":  # commands, run below
        return
    includes = INCLUDE.findall(page.read_text(encoding="utf-8"))
    assert includes, f"{page.name} shows no example's code"
    for target in includes:
        path = (page.parent / target).resolve()
        assert path.is_file() and path.is_relative_to(ROOT / "examples"), target


def test_the_howto_index_lists_every_page() -> None:
    index = (DOCS / "howto" / "index.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^   ([a-z-]+)$", index, re.MULTILINE))
    assert listed == {p.stem for p in HOWTO}


def test_the_cli_page_commands_run() -> None:
    page = (DOCS / "howto" / "cli.rst").read_text(encoding="utf-8")
    assert "python -m flask_authguard secret" in page and "python -m flask_authguard decode TOKEN" in page
    run = [sys.executable, "-m", "flask_authguard"]
    secret = subprocess.run([*run, "secret"], capture_output=True, text=True, check=True).stdout.strip()
    from flask_authguard import encode

    token = encode(token={"sub": "alice"}, secret=secret)
    decoded = subprocess.run(
        [*run, "decode", token, "--secret", secret], capture_output=True, text=True, check=True
    ).stdout
    assert '"sub": "alice"' in decoded
