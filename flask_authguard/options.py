"""Compatibility import path: the code lives in :mod:`flask_authguard.core.options` and
:mod:`flask_authguard.core.config`."""

from .core.config import *  # noqa: F401,F403
from .core.options import *  # noqa: F401,F403
