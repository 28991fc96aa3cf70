"""Compatibility import path: the code lives in :mod:`flask_authguard.core.hooks`."""

from .core.hooks import *  # noqa: F401,F403
