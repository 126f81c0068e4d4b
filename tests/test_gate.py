"""The gate searched by a stateful model: bounds, every tap answered, order, after every step."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from aiogram.types import Chat, Update, User
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from bot.i18n import create_i18n
from bot.storage.database import Database
from bot.telegram.gate import RUNNING, SLOW_DOWN_EVERY, WAITING, Gate
from tests.conftest import FakeClock

PEOPLE = (1, 2, 3)
BLOCKED_ONE = 4
# Small, so that the people together reach it.
HELD = 7


class FakeBot:
    """What the gate may say: answers to taps and messages to people, in order."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.answers: list[tuple[str, str | None]] = []
        # (person, when): every "slow down", as a message or as a tap's answer.
        self.told: list[tuple[int, float]] = []
        self.tapped_by: dict[str, int] = {}

    async def answer_callback_query(self, query_id: str, text: str | None = None) -> bool:
        self.answers.append((query_id, text))
        if text is not None:
            self.told.append((self.tapped_by[query_id], self.clock()))
        return True

    async def send_message(self, chat_id: int, _text: str) -> None:
        self.told.append((chat_id, self.clock()))


class Strangers:
    """The database as the gate reads it: nobody has chosen a language."""

    async def get_user(self, _user_id: int) -> None:
        return None


@dataclass(eq=False)
class Sent:
    """One update sent into the gate, and what became of it."""

    number: int
    person: int
    tap_on: int | None
    task: asyncio.Task[Any] | None = None
    started: bool = False
    finish: asyncio.Event = field(default_factory=asyncio.Event)


class GateModel(RuleBasedStateMachine):
    locales: Path

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.bot = FakeBot(self.clock)
        self.blocked = {BLOCKED_ONE}
        self.gate = Gate(
            blocked=self.blocked.__contains__,
            i18n=create_i18n("en", self.locales),
            db=cast(Database, Strangers()),
            clock=self.clock,
            held=HELD,
        )
        self.updates: list[Sent] = []
        # Updates whose handler started, in the order they started.
        self.handled: list[Sent] = []

    def teardown(self) -> None:
        for sent in self.updates:
            if sent.task is not None:
                sent.task.cancel()
        self.loop.run_until_complete(self._settle())
        self.loop.close()

    async def _settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    def _run(self, work: Any) -> None:
        self.loop.run_until_complete(work)

    # -- what people and the bot do ----------------------------------------------------------

    @rule(
        person=st.sampled_from((*PEOPLE, BLOCKED_ONE)),
        tap_on=st.one_of(st.none(), st.integers(1, 2)),
        times=st.integers(1, 4),
    )
    def arrive(self, person: int, tap_on: int | None, times: int) -> None:
        """`times` updates from one person at one moment: taps on one of two messages, or
        typed messages."""
        for _ in range(times):
            before = self._snapshot()
            sent = Sent(len(self.updates) + 1, person, tap_on)
            self.updates.append(sent)
            self._run(self._arrive(sent))
            self._check_the_arrival(sent, before)

    async def _arrive(self, sent: Sent) -> None:
        sent.task = asyncio.get_running_loop().create_task(self._through_gate(sent))
        await self._settle()

    async def _through_gate(self, sent: Sent) -> Any:
        update, data = self._update(sent)

        async def handler(_event: Any, _data: dict[str, Any]) -> None:
            sent.started = True
            self.handled.append(sent)
            await sent.finish.wait()
            if sent.tap_on is not None:
                # The handler's own answer, as the callback middleware gives it.
                await self.bot.answer_callback_query(str(sent.number))

        return await self.gate(handler, update, data)

    def _update(self, sent: Sent) -> tuple[Update, dict[str, Any]]:
        user = {"id": sent.person, "is_bot": False, "first_name": "P", "language_code": "en"}
        chat = {"id": sent.person, "type": "private"}
        raw: dict[str, Any] = {"update_id": sent.number}
        if sent.tap_on is None:
            raw["message"] = {"message_id": sent.number, "date": 0, "chat": chat, "from": user}
        else:
            self.bot.tapped_by[str(sent.number)] = sent.person
            message = {"message_id": sent.tap_on, "date": 0, "chat": chat}
            raw["callback_query"] = {
                "id": str(sent.number),
                "from": user,
                "chat_instance": "1",
                "data": "x",
                "message": message,
            }
        data = {
            "event_from_user": User.model_validate(user),
            "event_chat": Chat.model_validate(chat),
            "bot": self.bot,
        }
        return Update.model_validate(raw), data

    @rule(data=st.data())
    def finish_one(self, data: st.DataObject) -> None:
        running = self._running()
        if running:
            data.draw(st.sampled_from(running)).finish.set()
            self._run(self._settle())

    @rule(data=st.data())
    def cancel_one(self, data: st.DataObject) -> None:
        """A stop cancels an update, waiting or under way."""
        live = [s for s in self.updates if s.task is not None and not s.task.done()]
        if live:
            chosen = data.draw(st.sampled_from(live))
            assert chosen.task is not None
            chosen.task.cancel()
            self._run(self._settle())

    @rule(seconds=st.sampled_from([1.0, SLOW_DOWN_EVERY - 1, SLOW_DOWN_EVERY]))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # -- what is seen ------------------------------------------------------------------------

    def _running(self) -> list[Sent]:
        return [s for s in self.updates if s.started and s.task and not s.task.done()]

    def _waiting(self, person: int | None = None) -> list[Sent]:
        return [
            s
            for s in self.updates
            if not s.started
            and s.task is not None
            and not s.task.done()
            and person in (None, s.person)
        ]

    def _snapshot(self) -> dict[str, Any]:
        return {
            "waiting": {p: list(self._waiting(p)) for p in PEOPLE},
            "running": {p: sum(s.person == p for s in self._running()) for p in PEOPLE},
            "held": len(self._running()) + len(self._waiting()),
        }

    def _told_lately(self, person: int) -> bool:
        now = self.clock()
        return any(p == person and at > now - SLOW_DOWN_EVERY for p, at in self.bot.told)

    def _check_the_arrival(self, sent: Sent, before: dict[str, Any]) -> None:
        """Whatever the arrival did to waiting updates, each is what the gate promises, and a
        person turned away is told to slow down unless they were told a while ago."""
        told_before = {p: self._told_lately(p) for p in PEOPLE}
        count_before = len(self.bot.told)
        superseded = self._check_the_outcome(sent, before)
        for person in PEOPLE:
            dropped = [
                s
                for s in [sent, *before["waiting"][person]]
                if s.person == person and s.task and s.task.done() and not s.started
            ]
            if dropped and not superseded and not told_before[person]:
                assert self._told_lately(person), f"{person} was not told to slow down"
        assert len(self.bot.told) - count_before <= 2, "one newcomer, one evicted at most"

    def _check_the_outcome(self, sent: Sent, before: dict[str, Any]) -> bool:
        """True when the arrival took an older tap's place."""
        if sent.person == BLOCKED_ONE:
            assert sent.task is not None
            assert sent.task.done()
            assert not sent.started
            return False
        person = sent.person
        waiting_before: list[Sent] = before["waiting"][person]
        turned_away = [s for p in PEOPLE for s in before["waiting"][p] if s.task and s.task.done()]
        refused_now = sent.task is not None and sent.task.done() and not sent.started
        same_message = [s for s in waiting_before if sent.tap_on and s.tap_on == sent.tap_on]
        if same_message:
            assert turned_away == same_message, "a newer tap takes the older one's place"
            assert not refused_now
            return True
        full = before["held"] >= HELD
        longest = max((len(before["waiting"][p]) for p in PEOPLE if p != person), default=0)
        evictable = full and longest > len(waiting_before)
        busy = before["running"][person] >= RUNNING or waiting_before
        if refused_now:
            over_own = busy and len(waiting_before) >= WAITING
            assert over_own or (full and not evictable), f"update {sent.number} turned away"
            assert turned_away == []
        elif full:
            assert evictable, "more held than the gate's bound"
            [evicted] = turned_away
            assert len(before["waiting"][evicted.person]) == longest, "not the longest queue"
            assert before["waiting"][evicted.person][-1] is evicted, "not their newest"
        else:
            assert turned_away == []
        return False

    @invariant()
    def bounds_hold(self) -> None:
        running = self._running()
        for person in PEOPLE:
            assert sum(s.person == person for s in running) <= RUNNING
            assert len(self._waiting(person)) <= WAITING
            if self._waiting(person):
                assert sum(s.person == person for s in running) == RUNNING, "a slot kept idle"
        assert self.gate.held == len(running) + len(self._waiting()) <= HELD
        busy = {s.person for s in [*running, *self._waiting()]}
        assert self.gate.people == len(busy), "idle people are forgotten"

    @invariant()
    def every_tap_is_answered_once_and_the_blocked_never(self) -> None:
        answered = [query for query, _text in self.bot.answers]
        assert len(answered) == len(set(answered)), "a tap answered twice"
        for sent in self.updates:
            done = sent.task is not None and sent.task.done() and not sent.task.cancelled()
            if sent.person == BLOCKED_ONE:
                assert not sent.started
                assert str(sent.number) not in answered
            elif done and sent.tap_on is not None:
                assert str(sent.number) in answered, f"tap {sent.number} not answered"

    @invariant()
    def each_persons_updates_are_handled_in_order(self) -> None:
        for person in PEOPLE:
            numbers = [s.number for s in self.handled if s.person == person]
            assert numbers == sorted(numbers)

    @invariant()
    def slow_down_is_said_at_most_once_a_window(self) -> None:
        last: dict[int, float] = {}
        for person, at in self.bot.told:
            assert person not in last or at - last[person] >= SLOW_DOWN_EVERY
            last[person] = at


def test_the_gate_keeps_its_bounds_and_answers_every_tap(locales: Path) -> None:
    GateModel.locales = locales
    run_state_machine_as_test(
        GateModel,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
