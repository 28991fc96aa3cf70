"""Compatibility import path: the code lives in :mod:`flask_authguard.core.cookies`."""

from .core.cookies import *  # noqa: F401,F403
