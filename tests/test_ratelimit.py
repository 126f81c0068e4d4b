"""The shared SMS-man limiter on a virtual clock: its promises, searched over random traffic."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.logs import USER_ID
from bot.smsman.ratelimit import Party, RateLimiter, on_behalf_of
from tests.sim.loop import virtual_loop

# A unit the limiter frees at answer + window (and a hair) is taken as still held this long
# after, so a check landing in that hair is no false alarm.
SLACK = 1e-5


class ObservedLimiter(RateLimiter):
    """Tells `granted`, as each grant is made, its class and whether the other class was
    waiting too (the counts are the limiter's at that moment)."""

    def __init__(self, rate: float, granted: Callable[[bool, bool], None]) -> None:
        super().__init__(rate)
        self._granted = granted

    def _take(self, background: bool) -> None:
        self._granted(background, self.waiting(background=not background) > 0)
        super()._take(background)


@dataclass(eq=False)
class Call:
    background: bool
    person: int | None
    latency: float
    task: asyncio.Task[None] | None = None
    sent: float | None = None
    ended: float | None = None
    # Interactive calls: how many other people were waiting when it reached the head of its
    # person's queue, and how many turns other people got since.
    allowance: int = 0
    overtaken: int = 0


@dataclass
class Traffic:
    """Calls through one limiter, each a task: queued, sent, answered after its latency; the
    promises are checked from what the calls saw, not from the limiter's own books."""

    rate: float
    calls: list[Call] = field(default_factory=list)
    background: list[Call] = field(default_factory=list)
    people: dict[int | None, list[Call]] = field(default_factory=dict)
    paused_until: float = -math.inf
    # (background, both classes waiting) of every grant, in order.
    grants: list[tuple[bool, bool]] = field(default_factory=list)
    # Background grants still to be cancelled right after they are made, before their call
    # can start.
    doomed: int = 0

    def __post_init__(self) -> None:
        self.limiter = ObservedLimiter(self.rate, self._granted)

    @property
    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def start(self, call: Call) -> None:
        self.calls.append(call)
        call.task = asyncio.create_task(self._run(call))

    async def _run(self, call: Call) -> None:
        USER_ID.set(call.person)
        self._queued(call)
        try:
            async with self.limiter.slot(background=call.background):
                self._sent(call)
                await asyncio.sleep(call.latency)
        except asyncio.CancelledError:
            if call.sent is None:
                self._left(call)
            raise
        finally:
            if call.sent is not None:
                call.ended = self.now

    def _granted(self, background: bool, both: bool) -> None:
        self.grants.append((background, both))
        if background and self.doomed and self.background:
            self.doomed -= 1
            victim = self.background[0].task
            assert victim is not None
            # After the grant, before the granted task runs again.
            asyncio.get_running_loop().call_soon(victim.cancel)

    def _queue_of(self, call: Call) -> list[Call]:
        return self.background if call.background else self.people.setdefault(call.person, [])

    def _at_head(self, call: Call) -> None:
        others = sum(1 for p, queue in self.people.items() if p != call.person and queue)
        call.allowance, call.overtaken = others, 0

    def _queued(self, call: Call) -> None:
        queue = self._queue_of(call)
        queue.append(call)
        if not call.background and len(queue) == 1:
            self._at_head(call)

    def _left(self, call: Call) -> None:
        queue = self._queue_of(call)
        head = queue[0] is call
        queue.remove(call)
        if head and queue and not call.background:
            self._at_head(queue[0])

    def _sent(self, call: Call) -> None:
        queue = self._queue_of(call)
        assert queue[0] is call, "each class, and each person, is served first come first"
        assert self.now >= self.paused_until, "a call went out during a pause"
        if not call.background:
            # (c) One turn per other person waiting when it reached the head of its queue.
            assert call.overtaken <= call.allowance, (call.overtaken, call.allowance)
            for person, waiting in self.people.items():
                if person != call.person and waiting:
                    waiting[0].overtaken += 1
        call.sent = self.now
        self._left(call)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.now + seconds)
        self.limiter.pause(seconds)

    def check(self) -> None:
        for call in self.calls:
            task = call.task
            if task is not None and task.done() and not task.cancelled():
                task.result()  # an assertion that failed inside a call
        window, units = self.limiter.window, self.limiter.units
        # (a) A call counts from its send until a window after its answer, and reaches the
        # provider somewhere between: never more than `units` may count at one moment (ends
        # before starts at the same instant: a window is half open).
        edges = sorted(
            edge
            for call in self.calls
            if call.sent is not None
            for edge in (
                (call.sent, 1),
                (math.inf if call.ended is None else call.ended + window, -1),
            )
        )
        held = 0
        for _at, step in edges:
            held += step
            assert held <= units, "more calls count at once than the rate allows"
        # (d) Work conservation: nobody waits while a unit is free, outside a pause.
        now = self.now
        if (self.background or any(self.people.values())) and now > self.paused_until + SLACK:
            counting = sum(
                1
                for call in self.calls
                if call.sent is not None
                and (call.ended is None or now < call.ended + window + SLACK)
            )
            assert counting >= units, f"{counting} of {units} units used while calls wait"
        # (b) Over any n grants while both classes waited, background got at least
        # 0.85 n - 1.7: each grant adds 20 [background] - 17, so n grants with k background
        # ones add 20 k - 17 n, which may fall at most 34 (the classes' passes never differ by
        # more than the larger stride, 17, at either end of the stretch).
        highest = total = 0
        for background, both in self.grants:
            if not both:
                highest = total = 0
                continue
            total += 3 if background else -17
            assert total - highest >= -34, "background got less than its share"
            highest = max(highest, total)

    async def settle(self) -> None:
        """Let everything due at this instant run."""
        for _ in range(20):
            await asyncio.sleep(0)

    async def drain(self) -> None:
        """Until every call ended: every unit comes back, none is counted twice."""
        window = self.limiter.window
        end = max(self.now, self.paused_until) + window
        end += sum(call.latency + window for call in self.calls)
        while self.now < end and not all(c.task is None or c.task.done() for c in self.calls):
            await asyncio.sleep(window / 2)
            self.check()
        assert all(c.task is None or c.task.done() for c in self.calls), "a call waits forever"
        await asyncio.sleep(window + SLACK)
        self.check()
        assert self.limiter.in_use == 0, "a unit leaked"
        assert self.limiter.waiting(background=True) == 0
        assert self.limiter.waiting(background=False) == 0


Step = tuple[int, str, int, int, int]

steps = st.lists(
    st.tuples(
        st.integers(0, 1500),  # ms since the last step
        st.sampled_from(["tap", "tap", "poll", "poll", "cancel", "doom", "pause"]),
        st.integers(0, 3),  # the person (0: none), or which call to cancel
        st.integers(1, 1500),  # ms of latency, or of the pause
        st.integers(1, 12),  # calls at once
    ),
    max_size=40,
)


async def play(rate: float, plan: list[Step]) -> None:
    traffic = Traffic(rate)
    for gap, kind, who, ms, count in plan:
        await asyncio.sleep(gap / 1000)
        if kind in ("tap", "poll"):
            for _ in range(count if kind == "poll" else max(1, count // 3)):
                person = None if kind == "poll" or not who else who
                traffic.start(Call(kind == "poll", person, ms / 1000))
        elif kind == "cancel":
            alive = [c.task for c in traffic.calls if c.task is not None and not c.task.done()]
            if alive:
                alive[(who * 7 + ms) % len(alive)].cancel()
        elif kind == "doom":
            traffic.doomed += 1
        else:
            traffic.pause(ms / 1000)
        await traffic.settle()
        traffic.check()
    await traffic.drain()


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    with virtual_loop() as loop:
        loop.run(coroutine)
        assert loop.exception_events == [], "a callback of the limiter failed"


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(rate=st.sampled_from([0.5, 1.0, 2.5, 5.0]), plan=steps)
def test_promises_hold_after_every_step(rate: float, plan: list[Step]) -> None:
    """(a) the rate at the provider's end, (b) background's share, (c) one turn per other
    person, (d) no unit idle while calls wait, (e) cancellation neither leaks nor double-counts
    a unit: any arrivals, latencies, classes, people, pauses and cancellations (while queued,
    granted but not started, under way)."""
    run(play(rate, plan))


def test_an_idle_class_banks_no_credit() -> None:
    """Polls alone for a long while, then taps: the taps get their share from then on, not a
    burst paid for by the time nobody tapped."""

    async def scenario() -> None:
        traffic = Traffic(5.0)
        for _ in range(60):
            traffic.start(Call(True, None, 0.01))
        await asyncio.sleep(6.5)
        for person in (1, 2, 3):
            for _ in range(5):
                traffic.start(Call(False, person, 0.01))
        await traffic.drain()
        later = traffic.grants[[b for b, _ in traffic.grants].index(False) :]
        first = [b for b, both in later if both][:20]
        assert first.count(True) >= 16, first

    run(scenario())


def test_a_party_goes_at_the_first_turn_of_any_of_its_people() -> None:
    """A call shared by two people (a catalog read both wait for) stands in both queues: the
    one who joined behind someone else's long queue still gets it at their own next turn."""

    async def scenario() -> None:
        limiter = RateLimiter(1.0)
        sent: list[str] = []

        async def call(name: str, person: int, party: Party | None = None) -> None:
            USER_ID.set(person)
            if party is None:
                async with limiter.slot():
                    sent.append(name)
            else:
                with on_behalf_of(party):
                    async with limiter.slot():
                        sent.append(name)

        shared = Party(1)
        tasks = [asyncio.create_task(call(f"a{n}", 1)) for n in range(5)]
        tasks.append(asyncio.create_task(call("shared", 1, shared)))
        await asyncio.sleep(0)
        shared.join(2)
        tasks.append(asyncio.create_task(call("b", 2)))
        await asyncio.gather(*tasks)
        # a0 went at once; then person 2's turn comes second and takes the shared call.
        assert sent == ["a0", "a1", "shared", "a2", "b", "a3", "a4"]
        # Out of the first person's queue too: their next call is not held up by it.
        await call("a5", 1)
        await asyncio.sleep(limiter.window + SLACK)
        assert limiter.in_use == 0

    run(scenario())


@pytest.mark.parametrize("rate", [0.0, -1.0, math.nan, math.inf])
def test_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(rate)
