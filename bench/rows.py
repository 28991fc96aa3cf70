"""What a benchmark row is: shared by the WSGI/Flask rows (``cases``) and the ASGI rows."""

from __future__ import annotations

import dataclasses
import typing as t

Timed = t.Callable[[], object]


@dataclasses.dataclass
class Context:
    """What the cases share: tokens, cookies, the loopback server for the HTTP row."""

    token: str
    cookie: str
    session_port: int | None = None


@dataclasses.dataclass
class Case:
    """One in-process row: ``setup(context)`` checks the row and returns what to time."""

    key: str
    group: str
    label: str
    baseline: str | None
    setup: t.Callable[[Context], Timed]


class Skip(Exception):
    """The row cannot run here; the message says why."""
