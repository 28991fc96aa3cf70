"""Compatibility import path: the code lives in :mod:`flask_authguard.flask.testing`."""

from .flask.testing import *  # noqa: F401,F403
