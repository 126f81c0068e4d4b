"""The pacer in virtual time against the emulator's limits: no 429, in order, shared fairly."""

from __future__ import annotations

import asyncio
import math
import random
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, TelegramMethod
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.telegram.pacer import Limits, Pacer, Priority, priority
from emulators.telegram.flood import FloodLimits
from emulators.telegram.models import ApiError
from tests.sim.loop import VirtualTimeLoop, virtual_loop

NO_BOT = cast(Bot, None)


@dataclass
class Sent:
    at: float
    chat: int | str | None
    text: str


@dataclass
class Flight:
    """One call the pacer let go: when, and when its answer (or error) came back."""

    chat: Any
    text: str
    left: float
    answered: float | None = None


@dataclass
class Telegram:
    """Takes calls the way the real server does: over a limit, 429 and not executed."""

    limits: FloodLimits
    sent: list[Sent] = field(default_factory=list)
    # Texts in the order the pacer let them go (concurrent requests may arrive in any order).
    let_go: list[str] = field(default_factory=list)
    flights: list[Flight] = field(default_factory=list)
    # Extra 429s to answer, whatever the limits say: (retry_after, ...) in order.
    refuse: list[int] = field(default_factory=list)
    # The network's delay each way; a call may overtake another on its way.
    network: Callable[[], float] = lambda: 0.002

    async def __call__(self, _bot: Bot, method: TelegramMethod[Any]) -> Any:
        flight = Flight(
            getattr(method, "chat_id", None),
            getattr(method, "text", ""),
            asyncio.get_running_loop().time(),
        )
        self.let_go.append(flight.text)
        self.flights.append(flight)
        try:
            return await self._take(method)
        finally:
            flight.answered = asyncio.get_running_loop().time()

    async def _take(self, method: TelegramMethod[Any]) -> Any:
        await asyncio.sleep(self.network())
        chat = getattr(method, "chat_id", None)
        try:
            if self.refuse:
                retry_after = self.refuse.pop(0)
                raise ApiError(
                    429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
                )
            if isinstance(chat, int | str):
                self.limits.check(chat)
        except ApiError as error:
            raise TelegramRetryAfter(method, error.description, error.retry_after or 1) from None
        self.sent.append(Sent(asyncio.get_running_loop().time(), chat, getattr(method, "text", "")))
        await asyncio.sleep(self.network())
        return True


@pytest.fixture
def loop() -> Iterator[VirtualTimeLoop]:
    with virtual_loop() as loop:
        yield loop


def telegram_on(loop: VirtualTimeLoop) -> Telegram:
    return Telegram(FloodLimits(clock=loop.time))


async def send(pacer: Pacer, telegram: Telegram, chat: int, text: str, level: Priority) -> None:
    with priority(level):
        await pacer(telegram, NO_BOT, SendMessage(chat_id=chat, text=text))


def test_a_burst_over_all_chats_goes_out_at_telegrams_rate_without_a_429(
    loop: VirtualTimeLoop,
) -> None:
    telegram, pacer = telegram_on(loop), Pacer()

    async def burst() -> None:
        sends = [send(pacer, telegram, chat, f"code {chat}", Priority.CODE) for chat in range(300)]
        await asyncio.gather(*sends)

    loop.run(burst())

    assert telegram.limits.refused == 0
    assert sorted(s.text for s in telegram.sent) == sorted(f"code {c}" for c in range(300))
    took = telegram.sent[-1].at - telegram.sent[0].at
    assert 8.9 < took < 9.5, "30 a second: the tenth thirty goes out 9 s after the first"
    assert pacer.waiting == 0


def test_one_chat_gets_its_messages_in_order_at_one_a_second(loop: VirtualTimeLoop) -> None:
    telegram, pacer = telegram_on(loop), Pacer()

    async def codes() -> None:
        await asyncio.gather(*(send(pacer, telegram, 7, f"{n}", Priority.CODE) for n in range(8)))

    loop.run(codes())

    assert [s.text for s in telegram.sent] == [f"{n}" for n in range(8)]
    assert telegram.limits.refused == 0
    gaps = [b.at - a.at for a, b in zip(telegram.sent[1:], telegram.sent[2:], strict=False)]
    assert min(gaps) >= 0.99


def test_a_queue_goes_out_by_priority_then_by_arrival(loop: VirtualTimeLoop) -> None:
    telegram, pacer = telegram_on(loop), Pacer()
    order = [
        (Priority.CARD, "card 1"),
        (Priority.NOTICE, "notice"),
        (Priority.CODE, "code 1"),
        (Priority.CARD, "card 2"),
        (Priority.MENU, "menu"),
        (Priority.CODE, "code 2"),
    ]

    async def queued() -> None:
        # Two sends empty the chat's bucket: what comes next queues, and waits its turn.
        await send(pacer, telegram, 7, "first", Priority.MENU)
        await send(pacer, telegram, 7, "second", Priority.MENU)
        tasks = []
        for level, text in order:
            tasks.append(asyncio.create_task(send(pacer, telegram, 7, text, level)))
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)

    loop.run(queued())

    texts = [s.text for s in telegram.sent]
    assert texts == ["first", "second", "menu", "code 1", "code 2", "notice", "card 1", "card 2"]


def test_a_429_pauses_all_sending_and_the_call_is_made_again(loop: VirtualTimeLoop) -> None:
    telegram, pacer = telegram_on(loop), Pacer()
    telegram.refuse = [3]

    async def sends() -> None:
        refused = asyncio.create_task(send(pacer, telegram, 1, "to 1", Priority.CODE))
        await asyncio.sleep(0.01)  # the 429 has come back
        later = [send(pacer, telegram, chat, f"to {chat}", Priority.CODE) for chat in range(2, 6)]
        await asyncio.gather(refused, *later)

    loop.run(sends())

    assert sorted(s.text for s in telegram.sent) == [f"to {c}" for c in range(1, 6)]
    assert min(s.at for s in telegram.sent) >= 3.0, "nothing goes out during the pause"
    assert telegram.sent[0].text == "to 1", "the refused call keeps its place in the line"
    assert pacer.retries_429 == 1


def test_answers_never_wait_in_the_line(loop: VirtualTimeLoop) -> None:
    telegram, pacer = telegram_on(loop), Pacer()

    async def answer_during_a_queue() -> float:
        queued = [
            asyncio.create_task(send(pacer, telegram, chat, "x", Priority.CARD))
            for chat in range(90)
        ]
        await asyncio.sleep(0.01)
        started = asyncio.get_running_loop().time()
        await pacer(telegram, NO_BOT, AnswerCallbackQuery(callback_query_id="1"))
        took = asyncio.get_running_loop().time() - started
        await asyncio.gather(*queued)
        return took

    assert loop.run(answer_during_a_queue()) < 0.01


def test_a_caller_that_gives_up_leaves_the_line(loop: VirtualTimeLoop) -> None:
    telegram, pacer = telegram_on(loop), Pacer()

    async def give_up() -> None:
        await send(pacer, telegram, 7, "1", Priority.MENU)
        await send(pacer, telegram, 7, "2", Priority.MENU)
        waiting = asyncio.create_task(send(pacer, telegram, 7, "gone", Priority.CARD))
        behind = asyncio.create_task(send(pacer, telegram, 7, "3", Priority.CARD))
        await asyncio.sleep(0.1)
        waiting.cancel()
        await behind
        assert pacer.waiting == 0

    loop.run(give_up())

    assert [s.text for s in telegram.sent] == ["1", "2", "3"]


def test_a_held_turn_is_spent_by_the_next_send(loop: VirtualTimeLoop) -> None:
    telegram, pacer = telegram_on(loop), Pacer()

    async def held() -> list[str]:
        async with pacer.turn(7, Priority.CARD):
            # Whatever is drawn here is drawn after the wait, and sent at once.
            drawn = f"drawn at {asyncio.get_running_loop().time():.0f}"
            await pacer(telegram, NO_BOT, EditMessageText(chat_id=7, message_id=1, text=drawn))
        await send(pacer, telegram, 7, "next", Priority.MENU)
        return [s.text for s in telegram.sent]

    assert loop.run(held()) == ["drawn at 0", "next"]
    assert telegram.limits.refused == 0


def test_a_group_gets_twenty_a_minute(loop: VirtualTimeLoop) -> None:
    telegram, pacer = telegram_on(loop), Pacer()

    async def group() -> None:
        await asyncio.gather(
            *(send(pacer, telegram, -100500, f"{n}", Priority.NOTICE) for n in range(25))
        )

    loop.run(group())

    assert telegram.limits.refused == 0
    assert [s.text for s in telegram.sent] == [f"{n}" for n in range(25)]
    assert telegram.sent[20].at >= 60.0


def test_codes_keep_their_share_while_many_chats_send_menus(loop: VirtualTimeLoop) -> None:
    telegram, pacer = telegram_on(loop), Pacer()

    async def menus_and_codes() -> None:
        menus = [send(pacer, telegram, c, f"menu {c}", Priority.MENU) for c in range(1, 101)]
        codes = [send(pacer, telegram, c, f"code {c}", Priority.CODE) for c in range(101, 201)]
        await asyncio.gather(*menus, *menus_again(), *codes)

    def menus_again() -> list[Coroutine[Any, Any, None]]:
        return [send(pacer, telegram, c, f"menu {c}", Priority.MENU) for c in range(1, 101)]

    loop.run(menus_and_codes())

    # The first thirty menus went before any code waited; from then on codes wait all along.
    for second in (1, 2, 3):
        sent = [s.text.split()[0] for s in telegram.sent if second <= s.at < second + 1]
        assert sent.count("code") == 20, "two thirds of the overall limit"
        assert sent.count("menu") == 10, "the menus' third"
    assert telegram.limits.refused == 0


def test_codes_and_menus_each_get_everything_alone(loop: VirtualTimeLoop) -> None:
    telegram, pacer = telegram_on(loop), Pacer()

    async def alone(level: Priority, chats: range) -> None:
        await asyncio.gather(*(send(pacer, telegram, c, f"{c}", level) for c in chats))

    loop.run(alone(Priority.MENU, range(1, 61)))
    loop.run(alone(Priority.CODE, range(61, 121)))

    menus = [s.at for s in telegram.sent if int(s.text) <= 60]
    codes = [s.at for s in telegram.sent if int(s.text) > 60]
    assert sum(at < menus[0] + 1 for at in menus) == 30
    assert sum(at < codes[0] + 1 for at in codes) == 30


def test_among_menus_the_chat_served_least_recently_goes_first(loop: VirtualTimeLoop) -> None:
    telegram, pacer = telegram_on(loop), Pacer(Limits(global_limit=1))

    async def one_floods() -> None:
        flood = [
            asyncio.create_task(send(pacer, telegram, 1, f"flood {n}", Priority.MENU))
            for n in range(4)
        ]
        await asyncio.sleep(0.1)
        others = [send(pacer, telegram, chat, f"chat {chat}", Priority.MENU) for chat in (2, 3, 4)]
        await asyncio.gather(*flood, *others)

    loop.run(one_floods())

    assert [s.text for s in telegram.sent] == [
        "flood 0",
        "chat 2",
        "chat 3",
        "chat 4",
        "flood 1",
        "flood 2",
        "flood 3",
    ]


class Referee:
    """Watches every turn the pacer gives, from what it may choose among, and checks the
    order over all chats: cards last; codes and notices by priority and arrival; menus the
    chat served least recently first; menus before codes and notices only while menus hold
    less than their share of the overall limit, and after them once they hold it."""

    def __init__(self, pacer: Pacer, telegram: Telegram, levels: dict[str, Priority]) -> None:
        self.pacer, self.telegram, self.levels = pacer, telegram, levels
        # What Telegram saw: each chat's latest send (by its place among all), and the menus
        # that may still count against the overall limit.
        self.last: dict[Any, int] = {}
        self.menus: list[Flight] = []
        self.seen = 0
        grant = pacer._grant

        def refereed(now: float) -> bool:
            self.look(now)
            contenders = self.contenders(now)
            self.check_the_menu_line_remembers_truly()
            granted = grant(now)
            assert granted == bool(contenders), "a chat that may send was kept waiting"
            if granted:
                self.check_the_choice(now, contenders)
            return granted

        pacer._grant = refereed  # type: ignore[method-assign]

    def look(self, now: float) -> None:
        flights = self.telegram.flights
        for n in range(self.seen, len(flights)):
            self.last[flights[n].chat] = n
            if self.levels[flights[n].text] is Priority.MENU:
                self.menus.append(flights[n])
        self.seen = len(flights)
        window = self.pacer._limits.global_window
        self.menus = [f for f in self.menus if f.answered is None or f.answered > now - window]

    def contenders(self, now: float) -> dict[Any, tuple[Priority, int, int]]:
        """Each chat whose head may send now: its priority, arrival, and when it was served."""
        found = {}
        for key, chat in self.pacer._chats.items():
            if chat.queue and not chat.blocked and not chat.queue[0][2].done():
                level, sequence, _future = chat.queue[0]
                if self.pacer._chat_wait(chat, now) <= 0:
                    found[key] = (Priority(level), sequence, chat.served)
        return found

    def check_the_choice(
        self, now: float, contenders: dict[Any, tuple[Priority, int, int]]
    ) -> None:
        [chosen] = [
            key
            for key, (_level, sequence, _served) in contenders.items()
            if not self.pacer._chats[key].queue or self.pacer._chats[key].queue[0][1] != sequence
        ]
        level = contenders[chosen][0]
        menus = {k: v for k, v in contenders.items() if v[0] is Priority.MENU}
        pushes = {k: v for k, v in contenders.items() if v[0] in (Priority.CODE, Priority.NOTICE)}
        cap = self.pacer._menu_cap
        if level is Priority.CARD:
            assert not menus, "a card redraw went before a menu"
            assert not pushes, "a card redraw went before a code"
        elif level is Priority.MENU:
            assert not pushes or len(self.menus) < cap, "menus took the codes' share"
            rank = {k: (served, sequence) for k, (_, sequence, served) in menus.items()}
            assert rank[chosen] == min(rank.values()), "a menu of a chat served more recently"
        else:
            order = {k: (level, sequence) for k, (level, sequence, _) in pushes.items()}
            assert order[chosen] == min(order.values()), "codes, then notices, in order"
            assert not menus or len(self.menus) >= cap, "a code went before a menu's share"

    def check_the_menu_line_remembers_truly(self) -> None:
        """The pacer's record of when each chat was served agrees with what Telegram saw,
        and it forgets only chats served before every chat it remembers."""
        last = self.last
        remembered = sorted(
            (chat.served, key) for key, chat in self.pacer._chats.items() if chat.served >= 0
        )
        seen = [last[key] for _served, key in remembered]
        assert seen == sorted(seen), "served in another order than sent"
        oldest = seen[0] if seen else math.inf
        forgotten = set(last) - {key for _served, key in remembered}
        assert all(last[key] < oldest for key in forgotten), "forgot a chat served later"


@st.composite
def traffic(draw: st.DrawFn) -> list[tuple[float, int, Priority]]:
    """Sends over a few seconds to a few busy chats and many quiet ones, at any priority, and
    bursts: many chats at one moment, beyond the overall limit."""
    chats = st.one_of(st.integers(1, 3), st.integers(4, 200))
    single = st.tuples(st.floats(0, 5, allow_nan=False), chats, st.sampled_from(Priority))
    sends = draw(st.lists(single, max_size=40))
    for _ in range(draw(st.integers(0 if sends else 1, 2))):
        at = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
        level = draw(st.sampled_from(Priority))
        first, size = draw(st.integers(4, 100)), draw(st.integers(20, 100))
        sends += [(at, first + n, level) for n in range(size)]
    return sends


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traffic(), st.randoms(use_true_random=False), st.sampled_from([0.0, 0.01, 0.3]))
def test_any_traffic_is_sent_whole_in_order_and_never_refused(
    sends: list[tuple[float, int, Priority]], rng: random.Random, jitter: float
) -> None:
    """Whatever the traffic and however the network delays each call (up to `jitter` each
    way, so calls overtake each other), Telegram refuses none and loses none, and every turn
    given keeps the order over all chats (`Referee`)."""
    with virtual_loop() as loop:
        telegram, pacer = telegram_on(loop), Pacer()
        telegram.network = lambda: rng.uniform(0, jitter)
        Referee(pacer, telegram, {f"{n}": level for n, (_, _, level) in enumerate(sends)})
        arrived: list[int] = []

        async def one(at: float, chat: int, level: Priority, n: int) -> None:
            await asyncio.sleep(at)
            arrived.append(n)  # sends due at one moment reach the pacer in some order
            await send(pacer, telegram, chat, f"{n}", level)

        async def everything() -> None:
            await asyncio.gather(*(one(*s, n) for n, s in enumerate(sends)))

        loop.run(everything())

        assert telegram.limits.refused == 0
        assert sorted(int(s.text) for s in telegram.sent) == list(range(len(sends)))
        # In one chat and at one priority, what arrived first is sent first.
        went = [int(text) for text in telegram.let_go]
        assert streams(went, sends) == streams(arrived, sends)
        assert pacer.waiting == 0


def streams(
    order: list[int], sends: list[tuple[float, int, Priority]]
) -> dict[tuple[int, Priority], list[int]]:
    """`order` split by chat and priority."""
    split: dict[tuple[int, Priority], list[int]] = defaultdict(list)
    for n in order:
        _at, chat, level = sends[n]
        split[chat, level].append(n)
    return split


def test_a_turn_given_to_a_caller_cancelled_at_once_is_given_back(loop: VirtualTimeLoop) -> None:
    """Cancelled in the very tick it got its turn (a timeout, a stop): nothing was sent, so
    nothing may stay counted, or thirty such would stop every send for good."""
    telegram, pacer = telegram_on(loop), Pacer(Limits(global_limit=1))

    async def cancelled_once_granted() -> None:
        await send(pacer, telegram, 1, "first", Priority.MENU)
        waiting = asyncio.create_task(send(pacer, telegram, 2, "never", Priority.MENU))
        await asyncio.sleep(0.1)
        grant = pacer._grant

        def grant_then_cancel(now: float) -> bool:
            # The moment is the point: the waiter is cancelled before it can resume.
            granted = grant(now)
            if granted:
                waiting.cancel()
            return granted

        pacer._grant = grant_then_cancel  # type: ignore[method-assign]
        await asyncio.gather(waiting, return_exceptions=True)
        pacer._grant = grant  # type: ignore[method-assign]
        async with asyncio.timeout(3):
            await send(pacer, telegram, 3, "next", Priority.MENU)

    loop.run(cancelled_once_granted())

    assert [s.text for s in telegram.sent] == ["first", "next"]


def test_a_group_held_by_unanswered_sends_sends_again_once_answered(loop: VirtualTimeLoop) -> None:
    telegram, pacer = telegram_on(loop), Pacer(Limits(group_limit=3, chat_rate=10.0))
    answer = asyncio.Event()

    async def hanging(_bot: Bot, method: TelegramMethod[Any]) -> Any:
        await answer.wait()  # Telegram holds its answers
        return await telegram(_bot, method)

    async def held() -> None:
        hung = [
            asyncio.create_task(
                pacer(cast(Any, hanging), NO_BOT, SendMessage(chat_id=-100, text=f"{n}"))
            )
            for n in range(3)
        ]
        await asyncio.sleep(1)
        after = asyncio.create_task(send(pacer, telegram, -100, "after", Priority.NOTICE))
        await asyncio.sleep(5)
        answer.set()
        async with asyncio.timeout(70):
            await asyncio.gather(*hung, after)

    loop.run(held())

    assert sorted(s.text for s in telegram.sent) == ["0", "1", "2", "after"]
