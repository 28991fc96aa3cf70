"""call_sync: plain and async hooks, with and without a running event loop."""

from __future__ import annotations

import asyncio

from flask_authguard.core._compat import call_sync


def plain(*, x: int) -> int:
    return x + 1


async def coro(*, x: int) -> int:
    await asyncio.sleep(0)
    return x * 2


def test_plain_function() -> None:
    assert call_sync(plain, x=1) == 2


def test_async_function_without_loop() -> None:
    assert call_sync(coro, x=4) == 8


def test_async_function_inside_running_loop() -> None:
    async def main() -> int:
        return t_call()

    def t_call() -> int:
        return call_sync(coro, x=5)

    assert asyncio.run(main()) == 10


def test_positional_arguments() -> None:
    assert call_sync(lambda a, b: a - b, 5, 3) == 2
