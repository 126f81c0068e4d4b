"""An aiosqlite connection that runs each operation inline on the event loop, with no thread."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import aiosqlite

from tests.sim.effects import Effects

_SHOWN_SQL = 60


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's API and ordering without its worker thread, whose timing would make runs
    differ: each operation first yields to the loop (where the thread hop would let other tasks
    run), then passes the crash switch, then runs at once."""

    def __init__(
        self,
        connector: Callable[[], sqlite3.Connection],
        effects: Effects,
        iter_chunk_size: int = 64,
    ) -> None:
        super().__init__(connector, iter_chunk_size)
        self._effects = effects

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        return self._connect().__await__()

    async def _connect(self) -> aiosqlite.Connection:
        if self._connection is None:
            await asyncio.sleep(0)
            self._effects.before("sqlite connect")
            self._connection = self._connector()
        return self

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        # Queued as aiosqlite's thread queues it: once asked for, it runs (in the order asked),
        # even when the caller is cancelled before it does.
        answer = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(self._run, answer, fn, args, kwargs)
        return await answer

    def _run(
        self,
        answer: asyncio.Future[Any],
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        try:
            self._effects.before(_effect_name(fn, args))
            if self._connection is None:
                raise ValueError("Connection closed")
            result = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller, as the thread does
            if not answer.done():
                answer.set_exception(exc)
            return
        if not answer.done():
            answer.set_result(result)

    async def close(self) -> None:
        if self._connection is None:
            return
        await asyncio.sleep(0)
        self._effects.before("sqlite Connection.close")
        self.abandon()

    def stop(self) -> None:
        self.abandon()

    def abandon(self) -> None:
        """Close the sqlite3 connection now, bypassing the crash switch, without committing:
        what a killed process leaves behind (sqlite rolls back its open transaction)."""
        self._running = False
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def connect(
    database: str | Path, effects: Effects, *, iter_chunk_size: int = 64, **kwargs: Any
) -> InlineConnection:
    """Like `aiosqlite.connect(database, **kwargs)`, over `effects`."""

    def connector() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(database, **kwargs)
        return connection

    return InlineConnection(connector, effects, iter_chunk_size)


def _effect_name(fn: Callable[..., Any], args: tuple[Any, ...]) -> str:
    # "Cursor.close" rather than "close", and the statement's start: a failure message can
    # tell which write a crash stopped.
    name = f"sqlite {getattr(fn, '__qualname__', 'call').replace('._', '.')}"
    if args and isinstance(args[0], str):
        name += " " + " ".join(args[0].split())[:_SHOWN_SQL]
    return name
