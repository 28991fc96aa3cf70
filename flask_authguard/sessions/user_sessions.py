"""A user's sessions for every layer: ``list_sessions`` and ``end_session`` over the strategy's
:mod:`~flask_authguard.sessions.devices`, for ``AuthGuard``, ``AuthEndpoints`` and any caller with
the resolved options (as :class:`~flask_authguard.sessions.revoke.Revoker` is for revocation)."""

from __future__ import annotations

import typing as t

from ..core.settings.config import Config
from .devices import SessionEntry
from .strategy import strategy_of

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


def list_sessions(
    config: Config, user_id: t.Any, environ: WSGIEnvironment | None = None
) -> list[SessionEntry]:
    """The live sessions of ``user_id`` (a token's ``sub``), the most recently seen first:
    dicts with ``id`` (opaque; what :func:`end_session` takes), ``signed_in_at``,
    ``last_seen_at`` (aware UTC datetimes or ``None``), ``user_agent`` and ``current``.

    :param environ: the request asking: its own session is marked ``current``.
    :raises ValueError: no user id.
    :raises ConfigurationError: a database adapter without ``list_user_sessions``.
    :raises BackendUnavailableError: the store or the database cannot be reached.
    """
    return t.cast("list[SessionEntry]", strategy_of(config).devices.list(user_id, environ))


def end_session(config: Config, user_id: t.Any, session_id: str) -> bool:
    """End one session of ``user_id``: ``session_id`` is an ``id`` from :func:`list_sessions`
    (JWT: its ``sid`` is revoked on every worker sharing the store; database: its row is deleted).

    :returns: whether ``user_id`` had such a session.
    :raises ValueError: no user id.
    :raises ConfigurationError: a database adapter without ``list_user_sessions``.
    :raises BackendUnavailableError: the store or the database cannot be reached.
    """
    return bool(strategy_of(config).devices.end(user_id, session_id))


__all__ = ["end_session", "list_sessions"]
