"""The lifecycle model: people, SMS-man, Telegram and crashes acting on the bot in any order."""

from __future__ import annotations

import asyncio
import functools
import logging
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bot.orders.lifecycle import LIVE_STATUSES, OrderStatus
from bot.orders.poller import MAX_BACKOFF
from bot.storage.records import Order
from emulators.smsman import RequestStatus
from emulators.telegram import SimUser, Tap
from keyboards.callbacks import BuyCb, OrderAction, OrderCb, PriceCb
from tests.conftest import ADMIN_ID, ALLOWED_ID
from tests.model.checks import (
    Checks,
    Record,
    longest_chain,
    read_orders,
    stored_codes,
    undelivered_codes,
)
from tests.sim.world import EPOCH, World

# Small numbers keep deadlines a few steps away; SMS-man's own lifetime stays far beyond them.
TIMEOUT = 120.0
INTERVAL = 3.0
# How long a process takes to start (imports), in virtual seconds.
START_SECONDS = 2.0
RATE = 5.0
READ_TIMEOUT = 15.0
STRANGER = 3000
# (country, app, price): the offers the person buys; prices only ever rise in the model, so
# what the provider charges is always the quote (maxPrice makes a higher price "no numbers").
OFFERS = [(5, 3, Decimal("12.50")), (1, 3, Decimal("9.90"))]
ANSWER_WAIT = 200.0
PROVIDER_FAULTS = [
    "http_500",
    "http_502",
    "timeout",
    "late_answer",
    "lost_response",
    "drop",
    "refused",
]
TELEGRAM_FAULTS = ["429 sendMessage", "429 editMessageText", "500 answer", "400 code", "block"]
# After trouble (a provider or Telegram fault, a restart) a release may take: a timed-out call
# and its retries, the poller's longest back-off, and a round.
AFTER_TROUBLE = 3 * READ_TIMEOUT + MAX_BACKOFF * 1.1 + 2 * INTERVAL
# Telegram's flood control waited out by the session (3 tries, at most 5 s each here).
FLOOD = 3 * 5.0
# Where a crash is aimed: the k-th next effect whose name has one of these parts.
CRASH_POINTS = {
    "any effect": ("",),
    "a write": ("INSERT", "UPDATE", "BEGIN", "COMMIT"),
    "an SMS-man call": ("smsman ",),
    "a Telegram call": ("telegram sendMessage", "telegram editMessageText"),
}
# One call with the client's retries, each timing out: what an attempt may take to fail.
ATTEMPT = 3 * (READ_TIMEOUT + 1)


def guarded(step: Callable[..., None]) -> Callable[..., None]:
    """A failing step marks the example broken, so teardown does not pile checks on top."""

    @functools.wraps(step)
    def run(self: LifecycleModel, *args: Any, **kwargs: Any) -> None:
        try:
            step(self, *args, **kwargs)
        except BaseException:
            self.broken = True
            raise

    return run


class ErrorLog(logging.Handler):
    """ERROR records, except a crashed process's last words (its tasks failing with Crashed
    as they are torn down) and what a clean stop's teardown says."""

    def __init__(self, dead: Callable[[], bool]) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.muted = False
        self._dead = dead

    def emit(self, record: logging.LogRecord) -> None:
        if not self.muted and not self._dead():
            self.records.append(record)


class LifecycleModel(RuleBasedStateMachine):
    """Set `locales` before running; `coverage` counts the rules that ran, across examples."""

    locales: ClassVar[Path]
    coverage: ClassVar[Counter[str]] = Counter()
    # Settings a variant of the model runs the bot with (wallet mode, say).
    settings_overrides: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="lifecycle-model-"))
        self.world = World(
            self.directory,
            self.locales,
            order_timeout_seconds=TIMEOUT,
            poll_interval_seconds=INTERVAL,
            smsman_max_rps=RATE,
            max_active_orders=4,
            daily_spend_limit="",
            **self.settings_overrides,
        )
        for country, app, price in OFFERS:
            self.world.smsman.set_stock(country, app, count=1000, cost=price)
        self.errors = ErrorLog(lambda: self.world.effects.crashed)
        logging.getLogger().addHandler(self.errors)
        self.record = Record()
        self.broken = False
        self._start()
        self.user = self.world.telegram.user(ALLOWED_ID)
        self.stranger = self.world.telegram.user(STRANGER)
        self.admin = self.world.telegram.user(ADMIN_ID)
        self.checks = Checks(self.world, self.user, self.record)
        self.next_code = 100_000
        # Each rise makes the quotes shown before it buy nothing; a few are enough.
        self.rises = 0
        self._run(self._send(self.user, "/start"))

    # -- driving the world ------------------------------------------------------------------

    def _start(self) -> None:
        if self.record.starts:
            # A process takes seconds to start (aiogram's import alone): Telegram's limits
            # have room again by then for what the process before it had sent.
            self.world.advance(START_SECONDS)
        while self.world.open() is None:
            pass  # A crash armed before the start killed it: start again.
        self.record.starts.append(self.world.loop.time())

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run one step of the model, then restart the bot if it crashed meanwhile."""
        type(self).coverage["steps"] += 1
        try:
            self.world.run(coroutine)
        finally:
            self._restart_if_crashed()

    def _restart_if_crashed(self) -> None:
        if not self.world.effects.crashed:
            return
        self.errors.muted = True
        try:
            self.world.crash()
        finally:
            self.errors.muted = False
        # Pushed, but the row saying so never committed: the restart pushes them again.
        self.record.may_repeat |= set(self.checks.pushed_codes()) & undelivered_codes(
            self.world.settings.database_path
        )
        self._start()

    async def _send(self, user: SimUser, text: str) -> None:
        if not user.chat.blocked:
            await user.send(text)
            await self._settle([])

    async def _taps(
        self, user: SimUser, data: str, times: int, made: list[Tap] | None = None
    ) -> None:
        """`times` taps on one button at the same moment, then until they are answered; the
        taps are added to `made`."""
        # A person taps buttons, and only messages with buttons have them (a pushed code has
        # none, so no tap can ever turn it into another screen).
        message = next((m for m in reversed(user.bot_messages) if m.buttons), None)
        if message is None or user.chat.blocked:
            return
        taps = [await user.tap_data(data, message=message) for _ in range(times)]
        if made is not None:
            made.extend(taps)
        await self._settle(taps)

    async def _settle(self, taps: Iterable[Tap]) -> None:
        """Until the bot has taken the updates, answered the taps and finished handling them
        (or crashed); a person waits that long before the next tap, at most ANSWER_WAIT."""
        deadline = self.world.loop.time() + ANSWER_WAIT
        pending = list(taps)
        while self.world.loop.time() < deadline and not self.world.effects.crashed:
            await asyncio.sleep(0.05)
            pending = [t for t in pending if t.answer is None]
            app = self.world.app
            busy = app is not None and app.dp["in_flight"].running
            if not pending and not busy and not self.world.telegram.pending_updates:
                break

    def _orders(self, statuses: Iterable[OrderStatus] | None = None) -> list[int]:
        wanted = set(statuses) if statuses is not None else None
        return [
            o.id
            for o in read_orders(self.world.settings.database_path)
            if wanted is None or o.status in wanted
        ]

    def _buttons(self, prefix: str) -> list[str]:
        """Every button of this kind the person has seen, oldest first."""
        seen: list[str] = []
        for message in self.user.chat.messages:
            for row in message.buttons:
                for button in row:
                    data = button.callback_data or ""
                    if data.startswith(prefix) and data not in seen:
                        seen.append(data)
        return seen

    def _count(self, name: str) -> None:
        type(self).coverage[name] += 1

    # -- the person --------------------------------------------------------------------------

    @rule(offer=st.sampled_from(OFFERS), times=st.integers(1, 3))
    @guarded
    def buy(self, offer: tuple[int, int, Decimal], times: int) -> None:
        """Tap an app in the picker, then Buy on its price screen, `times` at once."""
        country, app, _price = offer
        self._run(self._taps(self.user, PriceCb(country=country, app=app).pack(), 1))
        screen = self.user.last_bot_message
        buys = [
            b.callback_data
            for row in (screen.buttons if screen else [])
            for b in row
            if b.callback_data and b.callback_data.startswith("b:")
        ]
        if buys:
            self._count(f"buy x{times}")
            self.record.quotes_tapped.add(BuyCb.unpack(buys[0]).quote)
            self._purchase_taps(buys[0], times)

    @rule(offer=st.sampled_from(OFFERS), writes=st.one_of(st.none(), st.integers(0, 4)))
    @guarded
    def buy_and_a_code_comes(self, offer: tuple[int, int, Decimal], writes: int | None) -> None:
        """The whole way a person most often goes: buy, and the SMS comes a moment later; the
        process may die before one of the next few writes (a code stored, its status, its
        push recorded)."""
        self.buy(offer, 1)
        waiting = self._waiting()
        if not waiting:
            return
        self._count("buy, and a code comes" + (", then a crash" if writes is not None else ""))
        self._deliver(waiting[-1])
        if writes is not None:
            self.world.effects.arm(writes, among=CRASH_POINTS["a write"])
        self._run(asyncio.sleep(1.5 * INTERVAL))

    @precondition(lambda self: self._buttons("b:"))
    @rule(data=st.data())
    @guarded
    def tap_an_old_buy(self, data: st.DataObject) -> None:
        """A Buy button from an earlier screen: the same quote, tapped again later."""
        self._count("tap an old Buy")
        chosen = data.draw(st.sampled_from(self._buttons("b:")))
        self.record.quotes_tapped.add(BuyCb.unpack(chosen).quote)
        self._purchase_taps(chosen, 1)

    def _retries(self) -> list[str]:
        return [d for d in self._buttons("o:") if OrderCb.unpack(d).action is OrderAction.RETRY]

    @precondition(lambda self: self._retries())
    @rule(data=st.data(), times=st.integers(1, 3))
    @guarded
    def tap_retry(self, data: st.DataObject, times: int) -> None:
        self._count(f"tap Try again x{times}")
        chosen = data.draw(st.sampled_from(self._retries()))
        self.record.retries_tapped.add(OrderCb.unpack(chosen).order)
        self._purchase_taps(chosen, times)

    def _purchase_taps(self, data: str, times: int) -> None:
        """Taps on one Buy or Try again button sell at most one number between them, whatever
        the bot writes down about it (a restart may redeliver older taps, so not across one)."""
        sold = len(self.world.smsman.requests)
        starts = len(self.record.starts)
        self._run(self._taps(self.user, data, times))
        if len(self.record.starts) == starts:
            new = len(self.world.smsman.requests) - sold
            assert new <= 1, f"{times} taps on {data} bought {new} numbers"

    @precondition(lambda self: self._orders())
    @rule(
        data=st.data(),
        action=st.sampled_from(
            [OrderAction.CANCEL, OrderAction.USED, OrderAction.ANOTHER, OrderAction.DONE]
        ),
        times=st.integers(1, 2),
    )
    @guarded
    def tap_order(self, data: st.DataObject, action: OrderAction, times: int) -> None:
        # Mostly an order that is still open: its card's buttons are the ones people tap.
        orders = self._orders(LIVE_STATUSES) or self._orders()
        self._count(f"tap {action.name.lower()} x{times}")
        order = data.draw(st.sampled_from(orders))
        self._run(self._taps(self.user, OrderCb(order=order, action=action).pack(), times))

    @precondition(lambda self: self._orders())
    @rule(data=st.data(), action=st.sampled_from([OrderAction.CANCEL, OrderAction.DONE]))
    @guarded
    def stranger_taps(self, data: st.DataObject, action: OrderAction) -> None:
        orders = self._orders()
        self._count("a stranger taps an order")
        order = data.draw(st.sampled_from(orders))
        self._run(self._send(self.stranger, "/start"))
        taps: list[Tap] = []
        self._run(self._taps(self.stranger, OrderCb(order=order, action=action).pack(), 1, taps))
        for tap in taps:
            text = tap.answer.text if tap.answer else None
            assert text in (None, "This order is not yours or no longer exists."), text

    # -- SMS-man ---------------------------------------------------------------------------

    def _waiting(self) -> list[int]:
        """Requests the provider waits for an SMS on, of orders the bot knows."""
        known = {o.request_id for o in read_orders(self.world.settings.database_path)}
        return [
            r.request_id
            for r in self.world.smsman.requests
            if r.request_id in known
            and r.status in (RequestStatus.WAITING, RequestStatus.WAITING_NEXT)
        ]

    def _deliver(self, request_id: int) -> None:
        self.next_code += 1
        self.world.smsman.deliver_sms(request_id, str(self.next_code))

    @precondition(lambda self: self._waiting())
    @rule(data=st.data())
    @guarded
    def sms_arrives(self, data: st.DataObject) -> None:
        self._count("an SMS arrives")
        self._deliver(data.draw(st.sampled_from(self._waiting())))

    @precondition(lambda self: self._waiting())
    @rule(data=st.data(), writes=st.integers(0, 4))
    @guarded
    def sms_then_a_crash(self, data: st.DataObject, writes: int) -> None:
        """An SMS arrives and the process dies before one of its next few writes: the moments
        between storing a code, its status and its push."""
        self._count("an SMS, then a crash")
        self._deliver(data.draw(st.sampled_from(self._waiting())))
        self.world.effects.arm(writes, among=CRASH_POINTS["a write"])
        self._run(asyncio.sleep(1.5 * INTERVAL))

    def _live(self) -> list[Order]:
        return [
            o
            for o in read_orders(self.world.settings.database_path)
            if o.status in LIVE_STATUSES and o.deadline is not None
        ]

    @precondition(lambda self: self._live())
    @rule(
        data=st.data(),
        offset=st.sampled_from([-INTERVAL, -1.0, -0.15, 0.0, 0.05, 0.15, 1.0, INTERVAL]),
        sms=st.booleans(),
    )
    @guarded
    def near_a_deadline(self, data: st.DataObject, offset: float, sms: bool) -> None:
        """Time runs to within a poll interval of an order's deadline; an SMS may come then."""
        orders = self._live()
        self._count("near a deadline" + (", with an SMS" if sms else ""))
        order = data.draw(st.sampled_from(orders))
        assert order.deadline is not None
        wait = order.deadline - EPOCH + offset - self.world.loop.time()

        async def then() -> None:
            if wait > 0:
                await asyncio.sleep(wait)
            if sms and order.request_id in self._waiting():
                assert order.request_id is not None
                self._deliver(order.request_id)
            await asyncio.sleep(0)

        self._run(then())

    @rule(data=st.data())
    @guarded
    def the_world_misbehaves(self, data: st.DataObject) -> None:
        """SMS-man fails a call (or forgets a request, or raises a price), or Telegram refuses
        one: one rule for all of them, so they come as often as one kind of tap."""
        kinds = ["SMS-man", "Telegram"]
        kinds += ["forget"] if self._forgettable() else []
        kinds += ["price"] if self.rises < 2 else []
        kind = data.draw(st.sampled_from(kinds))
        if kind == "SMS-man":
            self.provider_fails(
                data.draw(st.sampled_from(["get-number", "get-sms", "set-status"])),
                data.draw(st.sampled_from(PROVIDER_FAULTS)),
                data.draw(st.integers(1, 3)),
            )
        elif kind == "Telegram":
            self.telegram_refuses(
                data.draw(st.sampled_from(TELEGRAM_FAULTS)), data.draw(st.integers(1, 5))
            )
        elif kind == "forget":
            self.provider_forgets(data.draw(st.sampled_from(self._forgettable())))
        else:
            self.price_rises(
                data.draw(st.sampled_from(OFFERS)),
                data.draw(st.sampled_from([Decimal("0.50"), Decimal("3")])),
            )

    def provider_fails(self, endpoint: str, kind: str, times: int) -> None:
        self._count(f"SMS-man: {kind} on {endpoint}")
        if kind == "refused":
            # An error answer: for set-status a refusal without a code to show.
            code = {"get-number": "no_numbers", "set-status": "wrong_status"}.get(
                endpoint, "unknown_error"
            )
            self.world.smsman.fail_next(endpoint, "error_code", times=times, code=code)
        else:
            self.world.smsman.fail_next(endpoint, kind, times=times, seconds=READ_TIMEOUT + 5)

    def _forgettable(self) -> list[int]:
        """Active requests of the bot's orders whose every code the bot has stored: only then
        can anyone tell how a request the provider forgot ended (with a code it keeps the
        money, without it refunds), and SMS-man forgets a request only after its lifetime,
        long after the bot's deadline has ended it."""
        stored = stored_codes(self.world.settings.database_path)
        known = {o.request_id: o.id for o in read_orders(self.world.settings.database_path)}
        return [
            r.request_id
            for r in self.world.smsman.requests
            if r.active
            and r.request_id in known
            and all(code in stored.get(known[r.request_id], ()) for code in r.codes)
        ]

    def provider_forgets(self, request_id: int) -> None:
        self._count("SMS-man forgets a request")
        self.world.smsman.expire_now(request_id)

    def price_rises(self, offer: tuple[int, int, Decimal], rise: Decimal) -> None:
        self._count("a price rises")
        self.rises += 1
        country, app, _price = offer
        current = self.world.smsman.offer(country, app)
        assert current is not None
        self.world.smsman.set_stock(country, app, cost=current.cost + rise)

    # -- Telegram ---------------------------------------------------------------------------

    def telegram_refuses(self, fault: str, retry_after: int) -> None:
        """Telegram: flood control on the next call, a server error answering a tap, a code
        push refused for good, or the person blocks the bot (or unblocks it again)."""
        telegram = self.world.telegram
        if fault == "block":
            blocked = self.user.chat.blocked
            self._count("the person unblocks the bot" if blocked else "the person blocks the bot")
            (telegram.unblock if blocked else telegram.block)(ALLOWED_ID)
        elif fault == "400 code":
            self._count("Telegram: 400 on a code push")
            telegram.fail_next(
                "sendMessage", 400, "Bad Request: message is too long", text=" code: "
            )
        elif fault == "500 answer":
            self._count("Telegram: 500 on a tap's answer")
            telegram.fail_next("answerCallbackQuery", 500, "Internal Server Error")
        else:
            method = fault.split()[1]
            self._count(f"Telegram: 429 on {method}")
            telegram.fail_next(
                method,
                429,
                f"Too Many Requests: retry after {retry_after}",
                retry_after=retry_after,
            )

    # -- time and the process ------------------------------------------------------------------

    @rule(seconds=st.sampled_from([0.2, 1.0, INTERVAL, 10.0, 30.0, TIMEOUT / 2]))
    @guarded
    def time_passes(self, seconds: float) -> None:
        self._count("time passes")
        self._run(asyncio.sleep(seconds))

    @rule(
        among=st.sampled_from(list(CRASH_POINTS)),
        effects=st.one_of(st.integers(0, 40), st.none()),
        seconds=st.sampled_from([0.0, 1.0, INTERVAL, 30.0]),
    )
    @guarded
    def restart(self, among: str, effects: int | None, seconds: float) -> None:
        """The process dies before its k-th next effect of a kind (any effect, a write to
        sqlite, an SMS-man or a Telegram call), wherever that falls: a tap, a poll, a push,
        a start; or with None it stops cleanly as on SIGTERM, and starts again."""
        if effects is not None:
            self._count(f"a crash before {among}")
            # Aimed at a kind, the crash comes within its next few: the boundaries that matter.
            k = effects if among == "any effect" else effects % 6
            self.world.effects.arm(k, among=CRASH_POINTS[among])
            self._run(asyncio.sleep(seconds))
            return
        self._count("a clean restart")
        self.errors.muted = True
        try:
            self.world.stop()
        finally:
            self.errors.muted = False
        if self.world.effects.crashed:
            self._restart_if_crashed()  # A crash armed earlier came while it stopped.
        else:
            self._start()

    # -- the promises ------------------------------------------------------------------------

    @invariant()
    @guarded
    def nothing_unhandled(self) -> None:
        records = [f"{r.name}: {r.getMessage()}" for r in self.errors.records]
        assert not records, records
        # Without the garbage collection loop_errors() does: that costs a tenth of a second.
        assert not self.world.loop.exception_events, self.world.loop.exception_events

    @invariant()
    @guarded
    def one_purchase_per_intent(self) -> None:
        self.checks.one_purchase_per_intent()

    @invariant()
    @guarded
    def no_code_pushed_twice(self) -> None:
        self.checks.codes_pushed_once(finished=False)

    @invariant()
    @guarded
    def released_on_time(self) -> None:
        orders = len(self._orders(LIVE_STATUSES))
        self.checks.released_on_time(
            round_=max(INTERVAL, orders / RATE) + longest_chain() / RATE,
            after_trouble=AFTER_TROUBLE,
            flood=FLOOD,
            attempt=ATTEMPT,
        )

    @invariant()
    @guarded
    def money_told_as_it_is(self) -> None:
        self.checks.money_told_as_it_is()

    @invariant()
    @guarded
    def within_smsmans_limit(self) -> None:
        refused = self.world.smsman.rate_refusals
        assert not refused, f"SMS-man refused {refused} requests over SMSMAN_MAX_RPS"

    @invariant()
    @guarded
    def within_telegrams_limits(self) -> None:
        flood = self.world.telegram.flood
        assert flood is not None
        assert not flood.refusals, f"Telegram answered sends with 429 at {flood.refusals}"

    def teardown(self) -> None:
        try:
            if not self.broken:
                self._finish()
        finally:
            logging.getLogger().removeHandler(self.errors)
            self.world.close()
            shutil.rmtree(self.directory, ignore_errors=True)

    def _owner_sees_what_needs_a_look(self) -> None:
        """/orders lists the lost purchases and the orders whose code was not delivered (the
        newest 20 of what it lists)."""
        orders = read_orders(self.world.settings.database_path)
        listed = [
            o.id
            for o in orders
            if o.status in (OrderStatus.LOST, OrderStatus.FAILED) or o.delivery_note is not None
        ]
        wanted = [
            o.id for o in orders if o.status is OrderStatus.LOST or o.delivery_note is not None
        ]
        if not wanted:
            return
        self._run(self._send(self.admin, "/orders"))
        listing = self.admin.last_bot_message
        assert listing is not None
        for order in set(wanted) & set(listed[-20:]):
            assert f"#{order} " in listing.text, f"/orders does not show order {order}"

    def _finish(self) -> None:
        """Heal the world, let every order end, then every promise must hold in full."""
        self.world.effects.disarm()
        self._restart_if_crashed()
        self.world.smsman.clear_faults()
        self.world.telegram.clear_faults()
        self._run(asyncio.sleep(TIMEOUT + AFTER_TROUBLE + 2 * MAX_BACKOFF))
        self.checks.everything_ended()
        self.checks.codes_pushed_once(finished=True)
        self.checks.money_told_as_it_is()
        self._owner_sees_what_needs_a_look()
        # Past the provider's own lifetime: what it sold unheard has come back.
        self.world.advance(1200.0)
        self.checks.books_balance()
        self.nothing_unhandled()
        assert not self.world.unretrieved(), self.world.unretrieved()
