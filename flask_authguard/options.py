"""Compatibility import path: the code lives in :mod:`flask_authguard.core.options`."""

from .core.options import *  # noqa: F401,F403
