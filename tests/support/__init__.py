"""Helpers shared by the test folders, imported as ``support.<module>`` from any of them (``tests``
is on ``sys.path``: ``pythonpath`` in pyproject.toml), and the paths they find their files by."""

from __future__ import annotations

import os
import pathlib
import typing as t

import pytest

#: ``tests/``: the data (``data/``) and the Node.js projects (``node/``, ``node_oidc/``, ``node_pg/``).
TESTS = pathlib.Path(__file__).resolve().parent.parent
#: The checkout: ``examples/``, ``bench/``, ``README.rst``, ``setup.cfg``.
ROOT = TESTS.parent
#: The recorded next-auth cases (``tests/data``).
DATA = TESTS / "data"


def missing(reason: str) -> t.NoReturn:
    """Skip the test for something this machine lacks, saying what (``reason``); under
    ``CI=true``, where everything is installed, fail it instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
