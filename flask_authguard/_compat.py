"""Calling user hooks that may be plain functions or coroutine functions."""

from __future__ import annotations

import asyncio
import inspect
import typing as t


def call_sync(fn: t.Callable[..., t.Any], /, *args: t.Any, **kwargs: t.Any) -> t.Any:
    """Call ``fn``; run the result to completion when it is awaitable (``async def`` hooks)."""
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        return asyncio.run(_await(result))
    return result


async def _await(awaitable: t.Awaitable[t.Any]) -> t.Any:
    return await awaitable
