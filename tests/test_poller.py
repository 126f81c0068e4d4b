"""The poller's schedule seen from outside: how many orders wait for their next poll."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.orders.lifecycle import OrderStatus
from bot.orders.poller import Poller
from bot.orders.service import Next, OrderService, OrderWatcher, Poll
from bot.storage.records import Order


def active_order(order_id: int) -> Order:
    return Order(
        id=order_id,
        quote_id=order_id,
        user_id=1,
        chat_id=1,
        card_message_id=None,
        country_id=1,
        country_title="Russia",
        country_iso="RU",
        application_id=3,
        app_title="Telegram",
        number="79000000000",
        price=Decimal("12.50"),
        currency="RUB",
        request_id=order_id,
        status=OrderStatus.ACTIVE,
        failure=None,
        created_at=0.0,
        updated_at=0.0,
        deadline=None,
    )


class RestoredOrders:
    """What Poller.start asks of the orders service: the open orders and a watch hook."""

    def __init__(self, orders: list[Order]) -> None:
        self.orders = orders
        self.watchers: list[OrderWatcher] = []

    def watch(self, watcher: OrderWatcher) -> None:
        self.watchers.append(watcher)

    async def pollable(self) -> list[Order]:
        return self.orders


async def test_watched_counts_restored_and_opened_orders_once() -> None:
    service = RestoredOrders([active_order(1), active_order(2), active_order(3)])
    poller = Poller(cast(OrderService, service), interval=60.0, rate=5)
    assert poller.watched == 0
    await poller.start()
    try:
        # Nothing was awaited since start(), so the poller's loop has not popped an order yet.
        assert poller.watched == 3
        [opened] = service.watchers
        opened(active_order(4))
        poller.schedule(2, 0.0)
        assert poller.watched == 4, "an order already on the schedule is not counted twice"
    finally:
        await poller.stop()


@pytest.mark.parametrize("turns", range(6))
async def test_stop_ends_the_loop_even_as_it_is_woken(turns: int) -> None:
    """A wake-up and the cancellation landing together: Python 3.11's wait_for returned the
    wake-up and dropped the cancellation, so the loop ran on and stop() never returned."""
    service = RestoredOrders([active_order(1)])
    poller = Poller(cast(OrderService, service), interval=3600.0, rate=5)
    await poller.start()
    poller.schedule(1, 3600.0)
    for _ in range(3):
        await asyncio.sleep(0)
    poller.schedule(2, 1800.0)
    for _ in range(turns):
        await asyncio.sleep(0)
    async with asyncio.timeout(5):
        await poller.stop()


class Looks:
    """A provider whose every look hangs until the test lets it answer, one by one."""

    def __init__(self) -> None:
        self.started: list[tuple[int, int]] = []  # (order, the step it started after)
        self.waiting: list[asyncio.Future[None]] = []
        self.step = 0
        self.holding = True
        self.looked = asyncio.Event()

    def watch(self, watcher: OrderWatcher) -> None:
        pass

    async def pollable(self) -> list[Order]:
        return []

    async def poll(self, order_id: int) -> Next:
        self.started.append((order_id, self.step))
        self.looked.set()
        if not self.holding:
            return Next(Poll.DONE)
        answer = asyncio.get_running_loop().create_future()
        self.waiting.append(answer)
        await answer
        return Next(Poll.DONE)

    def answer_all(self) -> None:
        """From now on every look answers at once."""
        self.holding = False
        for answer in self.waiting:
            answer.set_result(None)
        self.waiting.clear()


Step = tuple[str, int]
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("schedule"), st.integers(1, 5)),
        st.tuples(st.just("answer"), st.integers(0, 3)),
        st.tuples(st.just("turns"), st.integers(1, 3)),
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None, database=None)
@given(steps=STEPS, slots=st.integers(1, 2))
def test_every_order_scheduled_is_looked_at_after_it(steps: list[Step], slots: int) -> None:
    """Schedules, answers and loop turns in any order, every order due at the same instant
    (the heap's tie-break by id is where a lost entry would hide), one or two slots: each
    schedule is followed by a look at that order once the provider answers."""

    async def run() -> None:
        looks = Looks()
        poller = Poller(cast(OrderService, looks), interval=0.05, rate=slots, time=lambda: 0.0)
        await poller.start()
        scheduled: list[tuple[int, int]] = []
        try:
            for kind, value in steps:
                if kind == "schedule":
                    looks.step += 1
                    scheduled.append((value, looks.step))
                    poller.schedule(value, 0.0)
                elif kind == "answer" and looks.waiting:
                    looks.waiting.pop(value % len(looks.waiting)).set_result(None)
                for _ in range(value if kind == "turns" else 1):
                    await asyncio.sleep(0)

            def all_looked_at() -> bool:
                return all(
                    any(o == order and at >= step for o, at in looks.started)
                    for order, step in scheduled
                )

            looks.answer_all()
            async with asyncio.timeout(5):
                while not all_looked_at():
                    looks.looked.clear()
                    await looks.looked.wait()
        finally:
            looks.answer_all()
            await poller.stop()

    asyncio.run(run())
