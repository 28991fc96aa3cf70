"""Compatibility import path: the code lives in :mod:`flask_authguard.core.errors`."""

from .core.errors import *  # noqa: F401,F403
