"""``examples/testing``: the testing how-to page's tests pass when run as the page says
(``python -m pytest examples/testing``)."""

from __future__ import annotations

import subprocess
import sys

from support import ROOT


def test_the_example_tests_pass() -> None:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/testing"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "5 passed" in result.stdout
