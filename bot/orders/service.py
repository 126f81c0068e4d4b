"""The orders service: every order status change, by `bot.orders.lifecycle.TABLE`, and only here."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from bot.catalog.cache import Catalog
from bot.clock import Clock
from bot.config import Settings
from bot.logs import about_order
from bot.orders.cancels import CancelLimit
from bot.orders.lifecycle import (
    LIVE_STATUSES,
    NO_NUMBER,
    PERSON_EVENTS,
    Answer,
    Event,
    OrderStatus,
    Tell,
    Then,
    rule,
)
from bot.orders.limits import Refusal
from bot.orders.outbox import Outbox
from bot.orders.provider_answers import BeforeCall, ProviderAnswers, Reply
from bot.owner.alerts import AdminAlerts
from bot.owner.provider_float import ProviderFloat
from bot.smsman.client import SmsManClient
from bot.smsman.models import Price
from bot.storage.database import Database
from bot.storage.records import Order, Quote
from bot.wallet.charges import money_back

log = logging.getLogger(__name__)

# Why an order ended, where the event says it rather than the provider's answer.
EVENT_FAILURES = {
    (Event.USED, OrderStatus.CANCELLED): "used",
    (Event.RESTART, OrderStatus.LOST): "interrupted",
}
# Messages sent on their own when the poller or a restart moved an order.
NOTICES = frozenset({Tell.EXPIRED, Tell.GONE, Tell.MAY_BE_CHARGED})
# Tells that change nothing on the person's screen: a later step's tell speaks instead.
QUIET = frozenset({Tell.NOTHING, Tell.CODE})
# A person's taps that reject the number at SMS-man, limited per hour.
GIVE_BACKS = frozenset({Event.CANCEL, Event.USED})


@dataclass(frozen=True, slots=True)
class Result:
    """What a purchase or an order action came to, with what the screen needs to show it."""

    tell: Tell
    order: Order | None = None
    quote: Quote | None = None
    alternatives: list[Price] = field(default_factory=list)
    refusal: Refusal | None = None
    # The last provider answer, so the poller can back off after a fault.
    answer: Answer = Answer.NONE
    # A new code was stored: it is to be pushed.
    stored: bool = False
    # The poller or a restart changed what the card shows.
    redraw: bool = False


class Poll(StrEnum):
    """What the poller should do with an order after one look at it."""

    AGAIN = "again"
    BACK_OFF = "back_off"
    IDLE = "idle"
    DONE = "done"


class Next(NamedTuple):
    """The poller's next step for an order.

    For IDLE, `after` is the wait; for AGAIN and BACK_OFF, the time left until the deadline, so
    the last look is taken at the deadline and not one interval after it.
    """

    action: Poll
    after: float = 0.0


OrderWatcher = Callable[[Order], None]


class OrderService:
    """The one owner of order status: a person's taps, the poller and restarts come here."""

    def __init__(
        self,
        *,
        db: Database,
        smsman: SmsManClient,
        catalog: Catalog,
        settings: Settings,
        alerts: AdminAlerts,
        provider_float: ProviderFloat,
        outbox: Outbox,
        clock: Clock,
    ) -> None:
        self._db = db
        self._settings = settings
        self._float = provider_float
        self._outbox = outbox
        self._clock = clock
        self._cancels = CancelLimit(db, settings, clock)
        self._provider = ProviderAnswers(
            smsman, catalog, alerts, lambda quote, price: db.requote(quote, price, clock())
        )
        # Orders whose card already says their time is up (the release is being retried).
        self._shown_pending: set[int] = set()
        self._watchers: list[OrderWatcher] = []
        # One step at a time per order: a tap and the poller never act on an order at once.
        self._order_locks: dict[int, asyncio.Lock] = {}
        self._lock_users: Counter[int] = Counter()

    def watch(self, watcher: OrderWatcher) -> None:
        """Be told of every order that starts needing polls (bought, or waiting again)."""
        self._watchers.append(watcher)

    def _opened(self, order: Order) -> None:
        for watcher in self._watchers:
            watcher(order)

    # -- a person's actions on an order -------------------------------------------------------

    async def cancel(self, user_id: int, order_id: int) -> Result:
        """Reject a number that has no code yet; the provider returns the money."""
        return await self._person(user_id, order_id, Event.CANCEL)

    async def report_used(self, user_id: int, order_id: int) -> Result:
        """The number is already registered or banned in the app: give it back for a refund."""
        return await self._person(user_id, order_id, Event.USED)

    async def another_sms(self, user_id: int, order_id: int) -> Result:
        """Ask the provider to wait for one more SMS on the same number."""
        return await self._person(user_id, order_id, Event.ANOTHER)

    async def done(self, user_id: int, order_id: int) -> Result:
        """The person has what they needed: close the request, the charge stays."""
        return await self._person(user_id, order_id, Event.DONE)

    async def _person(self, user_id: int, order_id: int, event: Event) -> Result:
        order = await self.get(user_id, order_id)
        if order is None:
            return Result(Tell.NOT_FOUND)
        if event not in GIVE_BACKS or rule(order.status, event).call is None:
            return await self.act(order, event)
        # Checked before the step: the table's rows are the same whether or not one is made.
        async with self._cancels.one_at_a_time(user_id):
            refusal = await self._cancels.refusal(user_id)
            if refusal is not None:
                log.info("order %s: give-back refused, %s an hour", order.id, refusal.allowed)
                return Result(Tell.LIMIT, order, refusal=refusal)
            return await self.act(order, event)

    async def open_orders(self, user_id: int) -> list[Order]:
        return await self._db.user_open_orders(user_id)

    async def peek(self, order_id: int) -> Order | None:
        """Any order, for the owner's view."""
        return await self._db.get_order(order_id)

    async def get(self, user_id: int, order_id: int) -> Order | None:
        order = await self._db.get_order(order_id)
        return order if order is not None and order.user_id == user_id else None

    async def history(self, user_id: int, page: int, per_page: int) -> tuple[list[Order], int]:
        total = await self._db.user_history_count(user_id)
        orders = await self._db.user_history(user_id, limit=per_page, offset=page * per_page)
        return orders, total

    # -- the poller and restarts --------------------------------------------------------------

    async def resolve_interrupted(self) -> None:
        """After a start: a purchase a crash cut short may have been sold; tell its buyer."""
        for order in await self._db.open_orders():
            await self.act(order, Event.RESTART)

    async def pollable(self) -> list[Order]:
        """Orders the poller must watch after a start: every one that has a live request."""
        return [o for o in await self._db.open_orders() if o.status in LIVE_STATUSES]

    async def poll(self, order_id: int) -> Next:
        """One look at an order: fetch its SMS, keep its deadline, redraw its card now and then."""
        with about_order(order_id):
            return await self._poll(order_id)

    async def _poll(self, order_id: int) -> Next:
        order = await self._db.get_order(order_id)
        if order is None or order.request_id is None or order.status not in LIVE_STATUSES:
            self._shown_pending.discard(order_id)
            return Next(Poll.DONE)
        now = self._clock()
        deadline = order.deadline if order.deadline is not None else now
        if now >= deadline:
            result = await self.act(order, Event.DEADLINE)
        elif order.status is OrderStatus.CODE_RECEIVED:
            # Nothing new can arrive before the person asks for another SMS: no provider call,
            # only the deadline to keep.
            return Next(Poll.IDLE, deadline - now)
        else:
            result = await self.act(order, Event.POLL)
        current = result.order
        if current is None or current.status not in LIVE_STATUSES:
            self._shown_pending.discard(order_id)
            return Next(Poll.DONE)
        now = self._clock()
        left = max(0.0, deadline - now)
        if result.answer is Answer.FAULT or now >= deadline:
            # Past the deadline an order still open waits for its release: try again later.
            return Next(Poll.BACK_OFF, left)
        if current.status is OrderStatus.CODE_RECEIVED:
            return Next(Poll.IDLE, left)
        return Next(Poll.AGAIN, left)

    # -- the engine ---------------------------------------------------------------------------

    async def act(
        self,
        order: Order,
        event: Event,
        *,
        before_call: BeforeCall | None = None,
        quote: Quote | None = None,
    ) -> Result:
        """Take `event` on an order through the table, one step of an order at a time."""
        with about_order(order.id):
            return await self._act(order, event, before_call, quote)

    async def _act(
        self, order: Order, event: Event, before_call: BeforeCall | None, quote: Quote | None
    ) -> Result:
        looked = rule(order.status, event)
        if looked.call is None and looked.then[Answer.NONE] == Then(order.status, Tell.NOTHING):
            return Result(Tell.NOTHING, order)
        if looked.call is None and looked.then[Answer.NONE].status is order.status:
            # A tap that changes nothing (a second tap while buying, say) does not wait for
            # the step under way: it is answered from the order as it is now.
            return Result(looked.then[Answer.NONE].tell, order)
        async with self._serialized(order.id):
            current = await self._db.get_order(order.id)
            assert current is not None
            result = await self._run(current, event, before_call, quote)
        # Sent in the background: Telegram making a send wait holds up no step and no poll.
        if result.order is not None:
            if result.stored:
                self._outbox.codes(result.order)
            if result.redraw:
                self._outbox.card(result.order)
        return result

    async def _run(
        self,
        order: Order,
        event: Event,
        before_call: BeforeCall | None,
        quote: Quote | None,
    ) -> Result:
        """Follow the table from `event` until a step has no follow-up (it has no loops)."""
        origin = event
        told = Tell.NOTHING
        stored = redraw = False
        while True:
            step = rule(order.status, event)
            if step.call is None:
                reply = Reply(Answer.NONE)
            else:
                reply = await self._provider.ask(
                    step.call,
                    order,
                    background=origin not in PERSON_EVENTS,
                    quote=quote,
                    before_call=before_call,
                )
            before_call = None
            before = order.status
            order, then, new_code = await self._move(order, step.then, reply, event)
            stored |= new_code
            if then.tell not in QUIET or told is Tell.NOTHING:
                told = then.tell
            redraw |= await self._after(
                order, then, reply, origin, changed=order.status is not before
            )
            if then.follow is None:
                return Result(
                    told,
                    order,
                    quote=reply.quote,
                    alternatives=reply.alternatives,
                    answer=reply.answer,
                    stored=stored,
                    redraw=redraw,
                )
            event = then.follow

    async def _move(
        self, order: Order, outcomes: Mapping[Answer, Then], reply: Reply, event: Event
    ) -> tuple[Order, Then, bool]:
        """Write the step's next status, as a compare-and-set on the status it was taken from;
        returns the order, the step taken, and whether a new code was stored.

        A code the provider showed is stored with that status in one transaction, so a crash
        cannot leave a stored code on an order that still waits for one.
        """
        now = self._clock()
        if reply.code is not None:
            new = outcomes[Answer.NEW_CODE]
            stored = await self._db.record_code(
                order.id, reply.code, now, expect=(order.status,), status=new.status
            )
            if stored is not None:
                log.info("order %s: code received", order.id)
                return await self._current(order), new, True
            reply = Reply(Answer.KNOWN_CODE)
        if reply.number is not None and await self._db.order_for_request(reply.number.request_id):
            # Sold under an id another order holds: the store cannot keep both, so this one
            # is as good as a purchase whose answer was lost.
            log.error("order %s: request %s is another order's", order.id, reply.number.request_id)
            reply = Reply(Answer.UNKNOWN, failure="duplicate_request")
        step = outcomes[reply.answer]
        fields: dict[str, Any] = {}
        if step.status is not order.status:
            fields["status"] = step.status
        if reply.number is not None:
            fields["request_id"] = reply.number.request_id
            fields["number"] = reply.number.number
            fields["deadline"] = now + self._settings.order_timeout_seconds
        if reply.failure is not None and step.status in NO_NUMBER:
            fields["failure"] = reply.failure
        if "status" in fields and (event, step.status) in EVENT_FAILURES:
            fields["failure"] = EVENT_FAILURES[event, step.status]
        if not fields:
            return order, step, False
        credit = money_back(order, step.status)
        updated = await self._db.update_order(
            order.id, expect=(order.status,), now=now, credit=credit, **fields
        )
        if updated is None:
            # Steps for one order take turns and this process is the file's only writer.
            raise RuntimeError(f"order {order.id} left {order.status} during a step")
        return updated, step, False

    async def _current(self, order: Order) -> Order:
        current = await self._db.get_order(order.id)
        assert current is not None
        return current

    async def _after(
        self, order: Order, then: Then, reply: Reply, origin: Event, *, changed: bool
    ) -> bool:
        """What a step sets going besides its status (polls, notices, the float); true when
        the card is to be redrawn."""
        if reply.answer is Answer.SOLD:
            self._opened(order)
            await self._float.after_purchase()
        elif reply.answer is Answer.NO_MONEY:
            await self._float.ran_dry()
        if changed and order.status is OrderStatus.WAITING_AGAIN:
            self._opened(order)
        if origin in PERSON_EVENTS:
            return False  # The person's own screen shows the outcome.
        if then.tell in NOTICES:
            self._outbox.notice(order, then.tell)
        if then.tell is Tell.PENDING and order.id not in self._shown_pending:
            self._shown_pending.add(order.id)
            return True
        return changed

    @asynccontextmanager
    async def _serialized(self, order_id: int) -> AsyncIterator[None]:
        lock = self._order_locks.setdefault(order_id, asyncio.Lock())
        self._lock_users[order_id] += 1
        try:
            async with lock:
                yield
        finally:
            self._lock_users[order_id] -= 1
            if not self._lock_users[order_id]:
                del self._lock_users[order_id]
                del self._order_locks[order_id]
