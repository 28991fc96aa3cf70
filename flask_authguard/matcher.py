"""Compatibility import path: the code lives in :mod:`flask_authguard.core.matcher`."""

from .core.matcher import *  # noqa: F401,F403
