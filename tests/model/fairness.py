"""The fairness model: two polite people buy and get codes while a third floods the bot."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from bot.storage.records import Order
from emulators.smsman import RequestStatus
from emulators.telegram import SimUser, Tap
from keyboards.callbacks import AppsCb, CountriesCb, OrderAction, OrderCb, PriceCb
from tests.conftest import ALLOWED_ID
from tests.model.checks import read_orders
from tests.model.driving import WorldModel, guarded

INTERVAL = 3.0
RATE = 5.0
# Deadlines far away: a number the model saw a code for is not released before its push.
TIMEOUT = 900.0
POLITE = (ALLOWED_ID, ALLOWED_ID + 1)
FLOODER = 3000
OFFERS = [(5, 3, Decimal("12.50")), (1, 3, Decimal("9.90"))]
# Countries of the emulator's catalog: an app list of each is an uncached get-prices at first.
COUNTRIES = range(1, 48)
SEARCHES = ["usa", "tel", "a", "whats", "Россия", "美国", "zzz"]
# A polite person's code is pushed within this of its SMS, however the third one floods: the
# poll interval (and its jitter), a turn within the provider's rate, the push's turn within
# Telegram's limits.
CODE_BOUND = 1.1 * INTERVAL + 2 / RATE + 2.0
# A polite person's tap is answered within this: the bot stops the spinner when the screen is
# drawn (or before a provider call), and screens go in turns by who was served least recently.
TAP_BOUND = 3.0
# However many updates one person sends, the bot holds a bounded number of them: a poll's
# batch of updates, each a task for a moment, and the bot's own few tasks.
TASKS_BOUND = 100 + 60


class FairnessModel(WorldModel):
    """Two polite people and one who floods (taps on uncached countries, /start, searches,
    price screens, buys and cancels) on Telegram's and SMS-man's limits: after every step the
    polite two still get their codes and their taps within the same bounds as without a flood,
    and every quote buys at most once."""

    coverage: ClassVar[Counter[str]] = Counter()

    def __init__(self) -> None:
        super().__init__(
            order_timeout_seconds=TIMEOUT,
            poll_interval_seconds=INTERVAL,
            smsman_max_rps=RATE,
            max_active_orders=4,
            daily_spend_limit="",
            open_to_all=True,
        )
        for country, app, price in OFFERS:
            self.world.smsman.set_stock(country, app, count=1000, cost=price)
        self._start()
        telegram = self.world.telegram
        self.polite = [telegram.user(person, language_code="en") for person in POLITE]
        self.flooder = telegram.user(FLOODER, language_code="ru")
        # (when, code, chat) of each SMS for a polite person; (when, tap) of each polite tap.
        self.sms: list[tuple[float, str, int]] = []
        self.taps: list[tuple[float, Tap]] = []
        self.codes = itertools.count(100_000)
        self.most_tasks = 0
        for user in [*self.polite, self.flooder]:
            self._run(self._send(user, "/start"))
        # Each polite person has a number waiting for its SMS from the start.
        for person, offer in enumerate(OFFERS):
            self.polite_buys(person, offer, None)

    # -- the polite two ------------------------------------------------------------------------

    def _tap(self, user: SimUser, data: str) -> Tap | None:
        """A polite tap on the newest screen with buttons, timed; the step waits for its answer
        (at most a little past its bound), as a person does before tapping again."""
        message = next((m for m in reversed(user.bot_messages) if m.buttons), None)
        if message is None:
            return None
        made: list[Tap] = []

        async def tap() -> None:
            seen = user.chat.version
            made.append(await user.tap_data(data, message=message))
            self.taps.append((self.world.loop.time(), made[0]))
            await self._watched(self._until_drawn(user, made[0], seen))

        self._run(tap())
        return made[0] if made else None

    async def _until_drawn(self, user: SimUser, tap: Tap, seen: int) -> None:
        """Until the tap is answered and its screen drawn, or a while past the bound (the
        invariant then says what was late)."""
        with contextlib.suppress(AssertionError):
            await user.wait_for(
                lambda _user: tap.answer is not None and user.chat.version > seen,
                timeout=2 * TAP_BOUND,
            )

    @rule(
        person=st.sampled_from(range(len(POLITE))),
        offer=st.sampled_from(OFFERS),
        sms_after=st.sampled_from([None, 0.0, 1.0, INTERVAL]),
    )
    @guarded
    def polite_buys(
        self, person: int, offer: tuple[int, int, Decimal], sms_after: float | None
    ) -> None:
        """A price screen, then Buy on it twice; the SMS may come a moment later, whatever the
        third one is doing meanwhile."""
        user = self.polite[person]
        country, app, _price = offer
        self._count("a polite person opens a price screen")
        self._tap(user, PriceCb(country=country, app=app).pack())
        screen = user.last_bot_message
        buys = [
            b.callback_data
            for row in (screen.buttons if screen else [])
            for b in row
            if b.callback_data and b.callback_data.startswith("b:")
        ]
        if not buys:
            return
        self._count("a polite person buys")
        sold = len(self.world.smsman.requests)
        self._tap(user, buys[0])
        self._tap(user, buys[0])
        assert len(self.world.smsman.requests) - sold <= 1, f"{buys[0]} bought twice"
        waiting = [w for w in self._waiting() if w[1] == user.id]
        if sms_after is not None and waiting:
            self._run(self._watched(asyncio.sleep(sms_after)))
            self._deliver(*waiting[-1])

    def _deliver(self, request_id: int, chat: int) -> None:
        self._count("an SMS comes for a polite person")
        code = str(next(self.codes))
        self.world.smsman.deliver_sms(request_id, code)
        self.sms.append((self.world.loop.time(), code, chat))

    @rule(
        person=st.sampled_from(range(len(POLITE))),
        data=st.sampled_from(
            [
                CountriesCb(page=1).pack(),
                CountriesCb(page=0).pack(),
                *(AppsCb(country=c, page=0).pack() for c in (2, 7, 40)),
            ]
        ),
    )
    @guarded
    def polite_browses(self, person: int, data: str) -> None:
        self._count("a polite person browses")
        self._tap(self.polite[person], data)

    def _waiting(self) -> list[tuple[int, int]]:
        """(request id, chat) of the polite people's numbers waiting for an SMS."""
        chats = {o.request_id: o.chat_id for o in self._orders() if o.chat_id in POLITE}
        return [
            (r.request_id, chats[r.request_id])
            for r in self.world.smsman.requests
            if r.request_id in chats and r.status is RequestStatus.WAITING
        ]

    @precondition(lambda self: self._waiting())
    @rule(data=st.data())
    @guarded
    def an_sms_comes(self, data: st.DataObject) -> None:
        self._deliver(*data.draw(st.sampled_from(self._waiting())))

    # -- the third one -------------------------------------------------------------------------

    @rule(
        kind=st.sampled_from(["apps", "/start", "search", "prices", "mixed"]),
        count=st.one_of(st.integers(1, 30), st.sampled_from([100, 300])),
        over=st.sampled_from([0.0, 0.5, 3.0]),
    )
    @guarded
    def a_flood(self, kind: str, count: int, over: float) -> None:
        """`count` updates over `over` seconds, none waiting for an answer; the bot may still be
        busy with them when the next step begins, as with a real flood."""
        self._count(f"a flood: {kind}")
        user = self.flooder
        menu = next((m for m in reversed(user.bot_messages) if m.buttons), None)
        kinds = ["apps", "/start", "search", "prices"] if kind == "mixed" else [kind]

        async def flood() -> None:
            for n in range(count):
                what = kinds[n % len(kinds)]
                if what in ("apps", "prices") and menu is not None:
                    country = COUNTRIES[n % len(COUNTRIES)]
                    data = (
                        AppsCb(country=country, page=0)
                        if what == "apps"
                        else PriceCb(country=OFFERS[n % 2][0], app=OFFERS[n % 2][1])
                    )
                    await user.tap_data(data.pack(), message=menu)
                elif what == "search":
                    await user.send(SEARCHES[n % len(SEARCHES)])
                else:
                    await user.send("/start")
                await asyncio.sleep(over / count)

        self._run(self._watched(flood()))

    @rule(rounds=st.sampled_from([1, 2, 21]))
    @guarded
    def the_flooder_buys_and_cancels(self, rounds: int) -> None:
        """Buy, cancel, buy again: each cancel costs the provider account's standing."""
        self._count("the flooder buys and cancels")
        user = self.flooder
        country, app, _price = OFFERS[0]

        async def churn() -> None:
            for _ in range(rounds):
                await self._taps(user, PriceCb(country=country, app=app).pack(), 1)
                screen = user.last_bot_message
                buy = next(
                    (
                        b.callback_data
                        for row in (screen.buttons if screen else [])
                        for b in row
                        if b.callback_data and b.callback_data.startswith("b:")
                    ),
                    None,
                )
                if buy is not None:
                    await self._taps(user, buy, 1)
                for order in self._orders():
                    if order.chat_id == FLOODER and order.is_open:
                        cancel = OrderCb(order=order.id, action=OrderAction.CANCEL)
                        await self._taps(user, cancel.pack(), 1)

        self._run(self._watched(churn()))

    # -- time ----------------------------------------------------------------------------------

    @rule(seconds=st.sampled_from([0.2, 1.0, INTERVAL, 10.0]))
    @guarded
    def time_passes(self, seconds: float) -> None:
        self._count("time passes")
        self._run(self._watched(asyncio.sleep(seconds)))

    async def _watched(self, step: Coroutine[Any, Any, None]) -> None:
        """Run a step while noting how many tasks the bot holds at most meanwhile."""
        work = asyncio.ensure_future(step)
        while not work.done():
            self.most_tasks = max(self.most_tasks, len(asyncio.all_tasks()))
            await asyncio.wait({work}, timeout=0.05)
        work.result()

    def _orders(self) -> list[Order]:
        return read_orders(self.world.settings.database_path)

    # -- the promises --------------------------------------------------------------------------

    @invariant()
    @guarded
    def polite_codes_come_within_their_bound(self) -> None:
        now = self.world.loop.time()
        pushed: dict[tuple[int, str], float] = {}
        for call in self.world.telegram.calls_of("sendMessage"):
            text = str(call.params.get("text", ""))
            if call.ok and "<code>" in text:
                code = text.split("<code>", 1)[1].split("</code>", 1)[0]
                pushed.setdefault((int(call.params["chat_id"]), code), call.time)
        for at, code, chat in self.sms:
            if now < at + CODE_BOUND:
                continue
            when = pushed.get((chat, code))
            late = f"the code {code} that came at {at:.2f} for {chat}, pushed at {when}"
            assert when is not None, late
            assert when <= at + CODE_BOUND, f"{late} (bound {CODE_BOUND:.2f} s)"

    @invariant()
    @guarded
    def polite_taps_are_answered_within_their_bound(self) -> None:
        now = self.world.loop.time()
        answered = {
            str(call.params.get("callback_query_id")): call.time
            for call in self.world.telegram.calls_of("answerCallbackQuery")
        }
        for at, tap in self.taps:
            if now < at + TAP_BOUND:
                continue
            when = answered.get(tap.query_id)
            assert when is not None, f"{tap} at {at:.2f} was not answered"
            assert when <= at + TAP_BOUND, f"{tap} at {at:.2f} answered at {when:.2f}"

    @invariant()
    @guarded
    def every_number_sold_is_one_orders(self) -> None:
        """One purchase per quote: no number sold that no order holds, none held twice."""
        orders = self._orders()
        held = Counter(o.request_id for o in orders if o.request_id is not None)
        sold = {r.request_id for r in self.world.smsman.requests}
        assert set(held) == sold, (sorted(sold - set(held)), sorted(set(held) - sold))
        assert all(n == 1 for n in held.values()), held
        assert len({o.quote_id for o in orders}) == len(orders)

    @invariant()
    @guarded
    def within_the_providers_rate(self) -> None:
        refused = getattr(self.world.smsman, "rate_refusals", 0)
        assert not refused, f"SMS-man refused {refused} calls over its rate"

    @invariant()
    @guarded
    def a_flood_holds_a_bounded_number_of_updates(self) -> None:
        assert self.most_tasks <= TASKS_BOUND, f"{self.most_tasks} tasks at once"

    def _finish(self) -> None:
        """The flood ends: every polite code comes, every tap is answered."""
        self._run(self._watched(asyncio.sleep(CODE_BOUND + TAP_BOUND)))
        self.polite_codes_come_within_their_bound()
        self.polite_taps_are_answered_within_their_bound()
        self.nothing_unhandled()
