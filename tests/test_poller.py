"""The poller's schedule seen from outside: how many orders wait for their next poll."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import cast

import pytest

from bot.orders.lifecycle import OrderStatus
from bot.orders.poller import Poller
from bot.orders.service import OrderService, OrderWatcher
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
