"""The demo (``examples/demo``) started as a subprocess, and the browser fixture that drives it
(``tests/examples/test_browser.py``, ``tests/examples/test_demo_oauth.py``)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pathlib
import re
import subprocess
import typing as t

import pytest

from support import ROOT
from support.processes import stop
from support.webdriver import START_TIMEOUT, Browser, running_browser
from support.webdriver import wait_for as _wait_for

DEMO = ROOT / "examples" / "demo" / "app.py"


def _load_demo() -> t.Any:
    """``examples/demo/app.py`` as a module, whatever the current directory and ``sys.path``."""
    spec = importlib.util.spec_from_file_location("authguard_demo_app", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo()


class DemoProcess:
    """The demo started with its own command; :attr:`url` is what it printed."""

    def __init__(self, argv: list[str], log: pathlib.Path) -> None:
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXTAUTH_", "AUTH_"))}
        env["PYTHONUNBUFFERED"] = "1"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.url = _wait_for(self._printed_url, f"the demo to print its URL (log: {log})", START_TIMEOUT)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def _printed_url(self) -> str | None:
        match = re.search(r"running on (http://127\.0\.0\.1:\d+/)", self.output())
        if match:
            return match.group(1)
        if self.proc.poll() is not None:
            raise AssertionError(f"the demo exited with {self.proc.returncode}:\n{self.output()}")
        return None

    def stop(self) -> None:
        stop(self.proc)


@contextlib.contextmanager
def running_demo(argv: list[str], log: pathlib.Path) -> t.Iterator[DemoProcess]:
    process = DemoProcess(argv, log)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def browser(tmp_path: pathlib.Path) -> t.Iterator[Browser]:
    with running_browser(tmp_path) as session:
        yield session
