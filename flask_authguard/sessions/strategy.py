"""The one place that answers "JWT or database?": a strategy object per resolved options."""

from __future__ import annotations

from ..core.config import Config
from .base import SessionStrategy
from .database import DatabaseSessions
from .jwt import JwtSessions

_STRATEGY_KEY = "_authguard_sessions"


def strategy_of(config: Config) -> SessionStrategy:
    """The session strategy for ``config``: made on first use and kept with it, so the
    choice is made once per resolved options (at start-up for the guard and the endpoints)."""
    strategy: SessionStrategy | None = config.__dict__.get(_STRATEGY_KEY)
    if strategy is None:
        strategy = DatabaseSessions(config) if config.strategy == "database" else JwtSessions(config)
        config.__dict__[_STRATEGY_KEY] = strategy  # Config is frozen; this cache is not a field
    return strategy
