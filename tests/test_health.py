"""What `/healthz` counts as stuck: a poller that stopped beating, a database taking no write."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import cast

import pytest

from bot.metrics import Metrics
from bot.ops.health import DATABASE_CHECK_REUSED_FOR, Health
from bot.orders.poller import Poller
from bot.orders.service import Next, OrderService, Poll
from bot.storage.database import Database
from bot.storage.records import Order
from tests.conftest import FakeClock
from tests.test_poller import RestoredOrders, active_order


class SlowOrders(RestoredOrders):
    """Every poll hangs, as when SMS-man stops answering without closing the connection, until
    `release` is set."""

    def __init__(self, orders: list[Order] | None = None) -> None:
        super().__init__([active_order(n) for n in range(1, 4)] if orders is None else orders)
        self.polled: list[int] = []
        self.release = asyncio.Event()
        self._changed = asyncio.Event()

    async def poll(self, order_id: int) -> Next:
        self.polled.append(order_id)
        self._changed.set()
        await self.release.wait()
        return Next(Poll.DONE)

    async def until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(5):
            while not done():
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.sqlite3")
    yield database
    await database.close()


async def test_a_poller_that_stops_beating_is_unhealthy(db: Database) -> None:
    now = [0.0]
    poller = Poller(
        cast(OrderService, RestoredOrders([])), interval=3600.0, rate=5, time=lambda: now[0]
    )
    health = Health(db, poller, Metrics(), FakeClock(), stale_after=30.0)
    assert (await health.check()).problems == ["poller: not started yet (the bot is starting)"]
    await poller.start()
    try:
        await asyncio.sleep(0)  # its loop's first turn
        assert (await health.check()).healthy
        now[0] += 30.0
        assert (await health.check()).healthy, "30 s is still fresh"
        now[0] += 1.5
        report = await health.check()
        assert report.problems == ["poller: no heartbeat for 32 s"]
        assert report.body["status"] == "failing"
    finally:
        await poller.stop()
    assert (await health.check()).problems == ["poller: not running (stopped or failed)"]


async def test_the_poller_beats_while_idle_and_while_every_slot_hangs() -> None:
    orders = SlowOrders([])
    poller = Poller(cast(OrderService, orders), interval=0.05, rate=1, jitter=0.0)

    async def oldest_heartbeat(seconds: float) -> float:
        ages = []
        for _ in range(round(seconds / 0.05)):
            await asyncio.sleep(0.05)
            age = poller.heartbeat_age
            assert age is not None
            ages.append(age)
        return max(ages)

    await poller.start()
    try:
        # Idle, then with its one slot held by a poll that hangs: each long enough that a
        # loop not beating would show an age of most of it.
        assert await oldest_heartbeat(1.0) < 0.5
        for order_id in (1, 2, 3):
            poller.schedule(order_id, 0.0)
        assert await oldest_heartbeat(1.0) < 0.5
        assert orders.polled == [1], "one slot, held by a poll that hangs"
    finally:
        orders.release.set()
        await poller.stop()


async def test_an_order_scheduled_while_the_loop_waits_for_a_slot_keeps_its_turn() -> None:
    """The loop waits for a slot with the order it took off the schedule in hand; one scheduled
    meanwhile for the same moment with a smaller id (the heap's new top) is polled too."""
    orders = SlowOrders([])
    poller = Poller(cast(OrderService, orders), interval=0.05, rate=1, time=lambda: 0.0)
    await poller.start()
    try:
        poller.schedule(10, 0.0)
        await orders.until(lambda: orders.polled == [10])  # holds the only slot
        poller.schedule(20, 0.0)
        await asyncio.sleep(0.01)  # the loop takes 20 and waits for the slot
        poller.schedule(5, 0.0)
        orders.release.set()
        await orders.until(lambda: sorted(orders.polled) == [5, 10, 20])
    finally:
        orders.release.set()
        await poller.stop()


async def test_a_database_that_takes_no_write_is_unhealthy(db: Database, tmp_path: Path) -> None:
    poller = Poller(cast(OrderService, RestoredOrders([])), interval=3600.0, rate=5)
    clock = FakeClock()
    health = Health(db, poller, Metrics(), clock, stale_after=30.0, write_timeout=0.2)
    await poller.start()
    other = sqlite3.connect(tmp_path / "bot.sqlite3", isolation_level=None)
    try:
        assert (await health.check()).healthy
        # Another process (a stuck sqlite3 shell, say) holds the write lock.
        other.execute("BEGIN IMMEDIATE")
        assert (await health.check()).healthy, "a write a moment ago answers for now"
        clock.advance(DATABASE_CHECK_REUSED_FOR)
        report = await health.check()
        assert report.problems == ["database: no write within 0.2 s"]
        other.execute("ROLLBACK")
        assert not (await health.check()).healthy, "and a failed one too"
        clock.advance(DATABASE_CHECK_REUSED_FOR)
        assert (await health.check()).healthy
    finally:
        other.close()
        await poller.stop()


async def test_requests_at_any_rate_cost_one_write_every_few_seconds(db: Database) -> None:
    poller = Poller(cast(OrderService, RestoredOrders([])), interval=3600.0, rate=5)
    clock = FakeClock()
    health = Health(db, poller, Metrics(), clock, stale_after=30.0)
    writes = 0
    write_health = db.write_health

    async def counted(now: float) -> None:
        nonlocal writes
        writes += 1
        await write_health(now)

    db.write_health = counted  # type: ignore[method-assign]
    await poller.start()
    try:
        # A burst at once shares the write under way; more within the period reuse it.
        await asyncio.gather(*(health.check() for _ in range(50)))
        for _ in range(50):
            clock.advance(DATABASE_CHECK_REUSED_FOR / 100)
            assert (await health.check()).healthy
        assert writes == 1
        clock.advance(DATABASE_CHECK_REUSED_FOR)
        assert (await health.check()).healthy
        assert writes == 2
    finally:
        await poller.stop()
