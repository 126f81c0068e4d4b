"""What the bot says of orders unprompted: codes, notices and card redraws, off the polls' path."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Coroutine
from typing import Any

from bot.clock import Clock
from bot.metrics import Metrics
from bot.orders.lifecycle import Tell
from bot.orders.notifier import Delivery, Notifier
from bot.storage.database import Database
from bot.storage.records import Code, Order
from bot.telegram.pacer import Pacer, Priority, priority

log = logging.getLogger(__name__)

MAX_PAUSE = 60.0
STOP_GRACE = 10.0


class Outbox:
    """Code pushes, notices and card redraws run as tasks of their own, so a poll that finds a
    code never waits for Telegram (which may hold every send for seconds after a 429).

    Codes to one chat go out one after another, oldest first; a card is redrawn only after
    the codes queued for its chat, from the order as it is when its turn comes, and a redraw
    asked for while one waits is folded into it. A code counts as delivered once Telegram said
    OK; codes left undelivered (Telegram down, a crash) are retried until sent or refused.
    """

    def __init__(
        self,
        notifier: Notifier,
        db: Database,
        pacer: Pacer,
        clock: Clock,
        *,
        interval: float,
        metrics: Metrics | None = None,
    ) -> None:
        self._notifier = notifier
        self._metrics = metrics or Metrics()
        self._db = db
        self._pacer = pacer
        self._clock = clock
        self._interval = max(1.0, interval)
        # Per chat, the orders whose codes are to be pushed, in the order they came.
        self._lines: dict[int, deque[int]] = {}
        self._pushers: dict[int, asyncio.Task[None]] = {}
        # Orders whose card waits for a redraw: true while one more is wanted.
        self._cards: dict[int, bool] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._redelivery: asyncio.Task[None] | None = None

    # -- what the orders service asks for ------------------------------------------------------

    def codes(self, order: Order) -> None:
        """Push the order's undelivered codes, after those already queued for its chat."""
        if self._stopping.is_set():
            return  # stored: the next start sends it
        line = self._lines.setdefault(order.chat_id, deque())
        # The head may be half way through its codes already: a new one needs another pass.
        if order.id not in itertools.islice(line, 1, None):
            line.append(order.id)
        if order.chat_id not in self._pushers:
            self._pushers[order.chat_id] = self._spawn(self._push_line(order.chat_id))

    def notice(self, order: Order, tell: Tell) -> None:
        if not self._stopping.is_set():
            self._spawn(self._notice(order, tell))

    def card(self, order: Order) -> None:
        """Redraw the order's card once its chat's queued codes are out."""
        if order.card_message_id is None or self._stopping.is_set():
            return
        wanted = order.id in self._cards
        self._cards[order.id] = True
        if not wanted:
            self._spawn(self._redraw(order.id, order.chat_id))

    async def settle(self) -> None:
        """Until nothing is queued or being sent (tests, and the end of a stop)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    # -- redelivery -----------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._redelivery = asyncio.create_task(self._redeliver(), name="redeliver")

    async def stop(self) -> None:
        """Let what is under way finish (a code Telegram took is then recorded as delivered),
        within a grace period; what is left is sent again by the next start."""
        self._stopping.set()
        running = set(self._tasks)
        if self._redelivery is not None:
            running.add(self._redelivery)
        if running:
            await asyncio.wait(running, timeout=STOP_GRACE)
        # Whatever is left, and what redelivery started meanwhile, ends here: a code not yet
        # recorded as delivered is sent again by the next start.
        while left := {t for t in (*self._tasks, self._redelivery) if t and not t.done()}:
            for late in left:
                late.cancel()
            await asyncio.wait(left)
        task = self._redelivery
        if task is not None and not task.cancelled() and (error := task.exception()) is not None:
            log.error("redelivery had failed", exc_info=error)

    async def _redeliver(self) -> None:
        pause = self._interval
        while not self._stopping.is_set():
            try:
                settled = await self.redeliver()
            except Exception:
                log.exception("redelivery failed")
                settled = False
            pause = self._interval if settled else min(MAX_PAUSE, pause * 2)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._stopping.wait()

    # -- the work -------------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _push_line(self, chat_id: int) -> None:
        line = self._lines[chat_id]
        try:
            with priority(Priority.CODE):
                while line:
                    try:
                        delivered = await self._deliver(line[0])
                    except Exception:
                        log.exception("order %s: pushing its codes failed", line[0])
                        delivered = False
                    if not delivered:
                        # Left undelivered in sqlite, the rest of the line too, so no later
                        # code overtakes it: redelivery sends them again, oldest first.
                        line.clear()
                        break
                    line.popleft()
        finally:
            del self._lines[chat_id]
            del self._pushers[chat_id]

    async def redeliver(self) -> bool:
        """Queue every stored but undelivered code (Telegram was down, a crash came between
        the push and its record); true once all of them are sent or given up."""
        # Orders already in a chat's line are that line's to push.
        queued = {order_id for line in self._lines.values() for order_id in line}
        codes = [c for c in await self._db.undelivered_codes() if c.order_id not in queued]
        chats = set()
        for order_id in dict.fromkeys(code.order_id for code in codes):
            order = await self._db.get_order(order_id)
            if order is not None:
                self.codes(order)
                chats.add(order.chat_id)
        pushers = {self._pushers[chat] for chat in chats if chat in self._pushers}
        if pushers:
            await asyncio.wait(pushers)
        left = {code.id for code in await self._db.undelivered_codes()}
        return not left & {code.id for code in codes}

    async def _deliver(self, order_id: int) -> bool:
        """Push the order's undelivered codes in order; false at the first Telegram did not
        take for now (the later ones wait for it)."""
        codes = await self._db.undelivered_codes(order_id)
        order = await self._db.get_order(order_id) if codes else None
        if order is None:
            return True
        for code in codes:
            if not await self._push(order, code):
                return False
        return True

    async def _push(self, order: Order, code: Code) -> bool:
        """Push one code; false when Telegram should be asked again later."""
        delivery, reason = await self._notifier.push_code(order, code)
        if delivery is Delivery.SENT:
            now = self._clock()
            await self._db.mark_code_delivered(code.id, now)
            self._metrics.code_pushed(now - code.received_at)
        elif delivery is Delivery.REFUSED:
            log.warning("order %s: code given up: %s", order.id, reason)
            await self._db.give_up_code(code, self._clock(), reason or "refused")
        return delivery is not Delivery.RETRY

    async def _notice(self, order: Order, tell: Tell) -> None:
        with priority(Priority.NOTICE):
            try:
                await self._notifier.tell(order, tell)
            except Exception:
                log.exception("order %s: notice %s not sent", order.id, tell)

    async def _redraw(self, order_id: int, chat_id: int) -> None:
        try:
            while self._cards[order_id]:
                pusher = self._pushers.get(chat_id)
                if pusher is not None:
                    await asyncio.wait({pusher})
                    continue
                async with self._pacer.turn(chat_id, Priority.CARD):
                    if chat_id in self._pushers:
                        continue  # a code came meanwhile: it goes first (the turn is lost)
                    # Drawn from the order as it is now: a redraw asked for before is in it.
                    self._cards[order_id] = False
                    order = await self._db.get_order(order_id)
                    if order is not None:
                        await self._notifier.update_card(order)
        except Exception:
            log.exception("order %s: card not redrawn", order_id)
        finally:
            del self._cards[order_id]
