"""README.rst is the front door: it must be valid reStructuredText (a broken table hides a page)."""

from __future__ import annotations

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
