"""``python -m examples.demo``: start the demo app (see ``app.py``)."""

from __future__ import annotations

from .app import main

main()
