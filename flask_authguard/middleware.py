"""Compatibility import path: the code lives in :mod:`flask_authguard.wsgi.middleware`."""

from .wsgi.middleware import *  # noqa: F401,F403
