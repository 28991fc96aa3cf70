"""Compatibility import path: the code lives in :mod:`flask_authguard.core.jwt`."""

from .core.jwt import *  # noqa: F401,F403
