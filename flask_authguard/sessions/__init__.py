"""Session strategies: where a session lives (the cookie or the adapter), chosen once.

:func:`strategy_of` turns resolved options into a :class:`SessionStrategy`
(:class:`JwtSessions` or :class:`DatabaseSessions`); :func:`read_session` is the per-request
entry of ``get_server_session`` and the session route.
"""

from __future__ import annotations

from .base import NOT_UPDATE, Session, SessionResult, SessionStrategy
from .database import DatabaseSessions
from .jwt import JwtSessions
from .reading import apply_cookies, config_of, read_session, writes_session_cookie
from .strategy import strategy_of

__all__ = [
    "NOT_UPDATE",
    "DatabaseSessions",
    "JwtSessions",
    "Session",
    "SessionResult",
    "SessionStrategy",
    "apply_cookies",
    "config_of",
    "read_session",
    "strategy_of",
    "writes_session_cookie",
]
