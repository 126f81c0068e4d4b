"""At most so many numbers given back an hour per person: each costs the SMS-man account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

from bot.clock import Clock
from bot.config import Settings
from bot.orders.lifecycle import OrderStatus
from bot.orders.limits import Limit, Refusal
from bot.storage.database import Database

# Cancel and "Number already used" both reject the number at SMS-man.
CANCELS = 20
CANCEL_WINDOW = 3600.0


class CancelLimit:
    """Counted from the orders in sqlite, so a restart forgets none; one person's give-backs
    are checked and made one at a time, so two taps at once cannot both slip under it."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._turns: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def refusal(self, user_id: int) -> Refusal | None:
        """The limit, and when the next give-back is possible, if this person is at it."""
        now = self._clock()
        since = now - CANCEL_WINDOW
        # An order is given back before its deadline, so one bought before the window and
        # the timeout cannot have been given back inside the window.
        orders = await self._db.orders_since(user_id, since - self._settings.order_timeout_seconds)
        given_back = sorted(
            o.updated_at
            for o in orders
            if o.status is OrderStatus.CANCELLED and o.updated_at > since
        )
        if len(given_back) < CANCELS:
            return None
        next_at = given_back[len(given_back) - CANCELS] + CANCEL_WINDOW
        return Refusal(Limit.CANCELS, Decimal(CANCELS), self._settings.currency, next_at)

    @asynccontextmanager
    async def one_at_a_time(self, user_id: int) -> AsyncIterator[None]:
        lock = self._turns.setdefault(user_id, asyncio.Lock())
        self._waiting[user_id] = self._waiting.get(user_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[user_id] -= 1
            if not self._waiting[user_id]:
                del self._waiting[user_id], self._turns[user_id]
