"""Calling user hooks that may be plain functions or coroutine functions."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import typing as t

#: Results no hook can await (the usual ones): no awaitable check needed.
_PLAIN = frozenset({dict, str, bool, type(None), list, int, float, tuple})


def call_sync(fn: t.Callable[..., t.Any], /, *args: t.Any, **kwargs: t.Any) -> t.Any:
    """Call ``fn``; run the result to completion when it is awaitable (``async def`` hooks).

    Inside a running event loop (an ``async def`` Flask view, say) the coroutine runs on a
    fresh loop in a worker thread, since this thread's loop cannot be re-entered.
    """
    return settle(fn(*args, **kwargs))


def settle(result: t.Any) -> t.Any:
    """``result`` of a hook, run to completion when it is awaitable (as :func:`call_sync` does).

    For hot paths that call a hook directly rather than through ``call_sync`` (whose
    ``**kwargs`` builds two dicts a call): ``settle(hook(...))``.
    """
    if type(result) in _PLAIN or not inspect.isawaitable(result):
        return result
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(result))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _await(result)).result()


async def _await(awaitable: t.Awaitable[t.Any]) -> t.Any:
    return await awaitable
