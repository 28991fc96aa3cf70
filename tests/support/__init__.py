"""Helpers shared by the test folders, imported as ``support.<module>`` from any of them (``tests``
is on ``sys.path``: ``pythonpath`` in pyproject.toml), and the paths they find their files by."""

from __future__ import annotations

import pathlib

#: ``tests/``: the data (``data/``) and the Node.js projects (``node/``, ``node_oidc/``, ``node_pg/``).
TESTS = pathlib.Path(__file__).resolve().parent.parent
#: The checkout: ``examples/``, ``bench/``, ``README.rst``, ``setup.cfg``.
ROOT = TESTS.parent
#: The recorded next-auth cases (``tests/data``).
DATA = TESTS / "data"
