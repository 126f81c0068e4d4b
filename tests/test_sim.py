"""The simulation harness: virtual time, the crash switch, inline sqlite."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sim import sqlite
from tests.sim.effects import Crashed, Effects
from tests.sim.loop import Deadlock, VirtualTimeLoop, virtual_loop


@pytest.fixture
def loop() -> Iterator[VirtualTimeLoop]:
    with virtual_loop() as loop:
        yield loop


# The loop


def test_an_hour_of_sleeps_passes_at_once_and_in_order(loop: VirtualTimeLoop) -> None:
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        woke.append((name, loop.time()))

    async def main() -> None:
        await asyncio.gather(
            sleeper("hour", 3600), sleeper("second", 1), sleeper("minute", 60), sleeper("now", 0)
        )

    started = time.perf_counter()
    loop.run(main())
    assert woke == [("now", 0.0), ("second", 1.0), ("minute", 60.0), ("hour", 3600.0)]
    loop.advance(90)
    assert loop.time() == 3690.0
    assert time.perf_counter() - started < 1


def test_timeouts_fire_in_virtual_time(loop: VirtualTimeLoop) -> None:
    async def too_slow() -> None:
        async with asyncio.timeout(30):
            await asyncio.sleep(31)

    with pytest.raises(TimeoutError):
        loop.run(too_slow())
    assert loop.time() == 30.0


def test_a_wait_for_nothing_is_a_deadlock_not_a_hang(loop: VirtualTimeLoop) -> None:
    async def waits_for_the_other(mine: asyncio.Event, theirs: asyncio.Event) -> None:
        await theirs.wait()
        mine.set()

    async def main() -> None:
        a, b = asyncio.Event(), asyncio.Event()
        await asyncio.gather(waits_for_the_other(a, b), waits_for_the_other(b, a))

    with pytest.raises(Deadlock, match="wait forever"):
        loop.run(main())


def test_threads_are_refused(loop: VirtualTimeLoop) -> None:
    with pytest.raises(RuntimeError, match="run_in_executor"):
        loop.run(asyncio.to_thread(print, "from a thread"))
    [refused] = loop.exception_events
    assert "run_in_executor" in refused["message"], "visible even if the caller catches it"


# Effects and inline sqlite


def test_an_armed_crash_stops_that_effect_and_every_later_one() -> None:
    effects = Effects()
    effects.arm(2)
    effects.before("one")
    effects.before("two")
    with pytest.raises(Crashed):
        effects.before("three")
    with pytest.raises(Crashed):
        effects.before("four")
    assert (effects.count, list(effects.recent), effects.crashed_before) == (
        2,
        ["one", "two"],
        "three",
    )
    effects.revive()
    effects.before("five")
    assert effects.count == 3


def test_inline_sqlite_uses_no_thread_and_a_crash_rolls_back(
    loop: VirtualTimeLoop, tmp_path: Path
) -> None:
    path = tmp_path / "db.sqlite3"
    effects = Effects()
    threads = threading.active_count()

    async def write_half_a_transaction() -> sqlite.InlineConnection:
        db = await sqlite.connect(path, effects, isolation_level=None)
        await db.execute("CREATE TABLE t (x INTEGER)")
        await db.execute("BEGIN")
        await db.execute("INSERT INTO t VALUES (1)")
        assert isinstance(db, sqlite.InlineConnection)
        return db

    db = loop.run(write_half_a_transaction())
    assert threading.active_count() == threads
    effects.crash()
    with pytest.raises(Crashed):
        loop.run(db.execute("INSERT INTO t VALUES (2)"))
    db.abandon()
    effects.revive()

    async def count() -> int:
        async with sqlite.connect(path, effects) as again:
            rows = await again.execute_fetchall("SELECT count(*) FROM t")
            return int(next(iter(rows))[0])

    assert loop.run(count()) == 0
    assert effects.recent[0] == "sqlite connect"
    assert "sqlite Connection.execute INSERT INTO t VALUES (1)" in effects.recent
