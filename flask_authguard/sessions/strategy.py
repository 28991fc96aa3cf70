"""The one place that answers "JWT or database?": a strategy object per resolved options."""

from __future__ import annotations

from ..core.runtime import runtime_of
from ..core.settings.config import Config
from .base import SessionStrategy
from .database import DatabaseSessions
from .jwt import JwtSessions


def strategy_of(config: Config) -> SessionStrategy:
    """The session strategy of ``config``'s runtime: made on first use and kept by it, so the
    choice is made once per resolved options (at start-up for the guard and the endpoints)."""
    runtime = runtime_of(config)
    strategy: SessionStrategy | None = runtime.sessions
    if strategy is None:
        strategy = DatabaseSessions(config) if config.strategy == "database" else JwtSessions(config)
        runtime.sessions = strategy
    return strategy
