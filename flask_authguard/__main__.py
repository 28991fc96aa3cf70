"""``python -m flask_authguard``: ``secret`` and ``decode`` (see :mod:`flask_authguard.flask.cli`)."""

from __future__ import annotations

from .flask.cli import main

if __name__ == "__main__":
    main()
