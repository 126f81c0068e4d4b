"""One scheduler for every open order: polls get-sms on time, fairly, within the rate limit."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import random
from collections.abc import Callable

from bot.orders.service import Next, OrderService, Poll
from bot.storage.records import Order

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0
STOP_GRACE = 10.0


class Poller:
    """Keeps each open order on a due-time heap and polls the most overdue first.

    Polls run concurrently (the provider's latency must not cap the rate), as many at once as
    the rate has units (more could never count at SMS-man at once). They queue in the shared
    limiter's background class, oldest due first, which keeps 85 % of the rate for them while
    people tap; with more orders than the rate allows every order simply waits about
    `orders / rate` seconds.
    """

    def __init__(
        self,
        orders: OrderService,
        *,
        interval: float,
        rate: float,
        jitter: float = 0.1,
        time: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._orders = orders
        self._interval = interval
        self._jitter = jitter
        self._concurrency = max(1, min(64, math.floor(rate)))
        self._time = time
        # Its own generator, so a simulation can seed the jitter and replay a run exactly.
        self._random = rng or random.Random()
        self._due: list[tuple[float, int]] = []
        # The one due time that counts per order; heap entries that disagree are stale.
        self._due_at: dict[int, float] = {}
        self._failures: dict[int, int] = {}
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(self._concurrency)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._beat: float | None = None

    def _now(self) -> float:
        return self._time() if self._time else asyncio.get_running_loop().time()

    def _spread(self, seconds: float) -> float:
        return seconds * (1 + self._random.uniform(-self._jitter, self._jitter))

    @property
    def started(self) -> bool:
        return self._task is not None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def heartbeat_age(self) -> float | None:
        """Seconds since the scheduler last went round its loop, which it does at least once an
        interval, idle or not; None when it is not running (not started, stopped or failed)."""
        if not self.running or self._beat is None:
            return None
        return max(0.0, self._now() - self._beat)

    @property
    def watched(self) -> int:
        """How many orders are waiting for their next look."""
        return len(self._due_at)

    def schedule(self, order_id: int, delay: float) -> None:
        """Look at the order after `delay`, unless it is already due sooner."""
        due = self._now() + max(0.0, delay)
        current = self._due_at.get(order_id)
        if current is not None and current <= due:
            return
        self._due_at[order_id] = due
        heapq.heappush(self._due, (due, order_id))
        self._wake.set()

    def on_order_opened(self, order: Order) -> None:
        """A new or re-armed order: first look one interval from now."""
        self._failures.pop(order.id, None)
        self.schedule(order.id, self._spread(self._interval))

    async def start(self) -> None:
        self._orders.watch(self.on_order_opened)
        pending = await self._orders.pollable()
        # Spread the restored orders over one interval instead of polling them all at once.
        for order in pending:
            self.schedule(order.id, self._random.uniform(0, self._interval))
        log.info("poller started with %d open orders", len(pending))
        self._beat = self._now()
        self._task = asyncio.create_task(self._run(), name="poller")

    async def stop(self) -> None:
        if self._task is not None:
            # The scheduler only plans, so it stops at once. asyncio.wait, not awaiting the
            # task under suppress(CancelledError): that would also swallow a cancellation of
            # stop() itself.
            self._task.cancel()
            await asyncio.wait({self._task})
            if not self._task.cancelled() and (error := self._task.exception()) is not None:
                log.error("the poller had failed", exc_info=error)
        if self._in_flight:
            # Let polls already talking to the provider finish, so no code read is dropped.
            _done, late = await asyncio.wait(self._in_flight, timeout=STOP_GRACE)
            for task in late:
                task.cancel()
        log.info("poller stopped")

    async def _run(self) -> None:
        while True:
            self._beat = self._now()
            while self._due and self._due_at.get(self._due[0][1]) != self._due[0][0]:
                heapq.heappop(self._due)
            due, order_id = self._due[0] if self._due else (math.inf, 0)
            delay = due - self._now()
            if delay > 0:
                self._wake.clear()
                # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives
                # just as the event is set, and stop() then waits for this loop forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(delay, self._interval)):
                        await self._wake.wait()
                continue
            heapq.heappop(self._due)
            del self._due_at[order_id]
            await self._slot()
            task = asyncio.create_task(self._poll(order_id))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _slot(self) -> None:
        """A poll slot; all of them held by slow provider calls is no reason to look dead, so
        the wait beats once an interval."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._slots.acquire()
                    return
            self._beat = self._now()

    async def _poll(self, order_id: int) -> None:
        try:
            outcome = await self._orders.poll(order_id)
        except Exception:
            log.exception("order %s: poll failed", order_id)
            outcome = Next(Poll.BACK_OFF)
        finally:
            self._slots.release()
        self._plan(order_id, outcome)

    def _plan(self, order_id: int, outcome: Next) -> None:
        if outcome.action is Poll.DONE:
            self._failures.pop(order_id, None)
            return
        if outcome.action is Poll.IDLE:
            self._failures.pop(order_id, None)
            self.schedule(order_id, outcome.after)
            return
        if outcome.action is Poll.BACK_OFF:
            failures = self._failures[order_id] = self._failures.get(order_id, 0) + 1
            delay = self._spread(min(MAX_BACKOFF, self._interval * 2**failures))
        else:
            self._failures.pop(order_id, None)
            delay = self._spread(self._interval)
        # The last look is due at the deadline itself, not up to an interval after it.
        self.schedule(order_id, min(delay, outcome.after) if outcome.after > 0 else delay)
