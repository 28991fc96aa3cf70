"""README.rst is the front door: it must be valid reStructuredText (a broken table hides a page)."""

from __future__ import annotations

import re

import docutils.core
import docutils.utils
from support import ROOT

README = ROOT / "README.rst"


def test_readme_renders_without_warnings() -> None:
    settings = {"report_level": 2, "halt_level": 2, "warning_stream": False}
    try:
        docutils.core.publish_doctree(README.read_text(encoding="utf-8"), settings_overrides=settings)
    except docutils.utils.SystemMessage as exc:  # the first problem, with its line
        raise AssertionError(f"README.rst: {exc}") from None


DEMO_COMMAND = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && python examples/demo/app.py"
)
TEST_COMMAND = 'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[test]" && python -m pytest'


def test_the_two_set_up_commands_come_first() -> None:
    """The front door's first section is the two commands, and they are the ones that run: CI runs
    the test command verbatim (``.ci/run``), and ``tests/examples/test_browser.py`` starts the demo
    with its last step, ``python examples/demo/app.py``."""
    text = README.read_text(encoding="utf-8")
    sections = re.findall(r"^(.+)\n-{3,}$", text, re.MULTILINE)
    assert sections[0] == "Set up in two commands"
    first = text.split("\nSet up in two commands\n", 1)[1].split(f"\n{sections[1]}\n", 1)[0]
    commands = re.findall(r"^    (python3 .+)$", first, re.MULTILINE)
    assert commands == [DEMO_COMMAND, TEST_COMMAND]
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_readme_is_a_short_front_door() -> None:
    text = README.read_text(encoding="utf-8")
    assert 150 <= len(text.splitlines()) <= 250
    sections = re.findall(r"^(.+)\n-{3,}$", text, re.MULTILINE)
    assert sections == [
        "Set up in two commands",
        "Quick start: Flask",
        "Quick start: any WSGI app",
        "Quick start: FastAPI",
        "Behind a Next.js front end",
        "Performance",
        "Documentation",
    ]
