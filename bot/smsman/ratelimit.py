"""The one limiter of every SMS-man call: within SMSMAN_MAX_RPS, looks first, people in turn."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field

from bot.logs import USER_ID

# While both classes wait, grants go by stride scheduling: each grant advances its class's pass
# by its stride, and the class with the lower pass goes next (interactive on a tie, so a tap
# into a busy poller is next). Strides 3 and 17 give background 17 grants in 20 (85 %).
BACKGROUND_STRIDE = 3
INTERACTIVE_STRIDE = 17
# Added to every wait, so a timer that fires a hair early (the loop's clock resolution, float
# rounding) finds the unit free instead of setting itself again for no time at all.
_EPSILON = 1e-6

Person = int | None


@dataclass(eq=False)
class _Waiter:
    future: asyncio.Future[None]
    background: bool
    # The people whose queues it stands in: one, or a party's.
    people: list[Person] = field(default_factory=list)
    queued: bool = True


class Party:
    """The people one shared call is made for (a catalog read several people wait for): it
    stands in each of their queues and goes at the first turn any of them gets, so joining it
    never makes a person wait behind someone else's queue."""

    def __init__(self, person: Person) -> None:
        self.people: list[Person] = [person]
        self._queued: list[tuple[RateLimiter, _Waiter]] = []

    def join(self, person: Person) -> None:
        if person in self.people:
            return
        self.people.append(person)
        for limiter, waiter in self._queued:
            if waiter.queued:
                limiter._queue(person, waiter)


_party: ContextVar[Party | None] = ContextVar("smsman_party", default=None)


@contextlib.contextmanager
def on_behalf_of(party: Party) -> Iterator[None]:
    """Interactive calls made inside (in this task and the tasks it starts) are the party's."""
    token = _party.set(party)
    try:
        yield
    finally:
        _party.reset(token)


class RateLimiter:
    """At most `units = max(1, floor(rate))` calls count at once, each from the moment it is let
    go until one window (1 s; 1/rate s for a rate below 1) after its answer or failure.

    SMS-man counts a request when it arrives, somewhere between our send and its answer. If
    `units + 1` requests arrived within one window [t, t + window), each was sent before t +
    window and counts until at least its arrival + window >= t + window: at the last of those
    sends all `units + 1` would count at once, which never happens. So no window at SMS-man's
    end sees more than `units` arrivals, however the network delays them, with no safety
    margin to guess. The price is a call's latency: each unit makes a call every latency + 1 s.

    Two classes share the units. Background calls (the poller's looks and the releases it
    makes) get 85 % of the grants while both classes wait, so codes keep coming whatever
    people tap; interactive calls get the rest, and all of it while no look waits (and looks
    all of it while nobody taps). A class that was idle banks no credit. Interactive callers
    are served in turn per person (`bot.logs.USER_ID`; calls made for no one are one more
    person): a queue each, round robin over the people waiting, so one person's hundred
    queued calls delay another's single call by one turn.
    """

    def __init__(self, rate: float) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError("rate must be positive")
        self._rate = rate
        self.units = max(1, math.floor(rate))
        self.window = 1.0 if rate >= 1 else 1 / rate
        self._in_flight = 0
        # When the latest calls were answered: each counts for one window from then.
        self._answered: deque[float] = deque()
        self._paused_until = -math.inf
        self._background: deque[_Waiter] = deque()
        self._people: dict[Person, deque[_Waiter]] = {}
        # The people with calls queued, whose turn is first first.
        self._rotation: deque[Person] = deque()
        self._waiting = {True: 0, False: 0}
        self._pass = {True: 0, False: 0}
        # The pass the latest grant was made at: every waiting class's pass is at least this,
        # and at most this plus its stride, so the two never differ by more than 17.
        self._latest = 0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def in_use(self) -> int:
        """Units counting now: calls under way, and those answered less than a window ago."""
        return self._in_flight + len(self._counting(self._now()))

    def waiting(self, *, background: bool) -> int:
        """Calls of that class queued for their turn now."""
        return self._waiting[background]

    def slot(self, *, background: bool = False) -> AbstractAsyncContextManager[None]:
        """One call to SMS-man inside: waits for its turn, and counts from its start until a
        window after the block ends, however it ends."""
        return self._slot(background)

    @contextlib.asynccontextmanager
    async def _slot(self, background: bool) -> AsyncIterator[None]:
        await self._turn(background)
        try:
            yield
        finally:
            self._in_flight -= 1
            self._answered.append(self._now())
            self._dispatch()

    def pause(self, seconds: float) -> None:
        """Nothing more is let go for `seconds` (SMS-man asked us to slow down)."""
        self._paused_until = max(self._paused_until, self._now() + seconds)
        self._dispatch()

    # -- turns ----------------------------------------------------------------------------------

    async def _turn(self, background: bool) -> None:
        if not self._waiting[background]:
            self._activate(background)
        if not self._waiting[True] and not self._waiting[False] and self._wait(self._now()) <= 0:
            self._take(background)
            return
        waiter = _Waiter(asyncio.get_running_loop().create_future(), background)
        self._waiting[background] += 1
        party = None if background else _party.get()
        if background:
            self._background.append(waiter)
        elif party is None:
            self._queue(USER_ID.get(), waiter)
        else:
            for person in party.people:
                self._queue(person, waiter)
            party._queued.append((self, waiter))
        self._dispatch()
        try:
            await waiter.future
        except asyncio.CancelledError:
            if not waiter.future.cancelled():
                # Given the turn, then cancelled before the call could start: nothing left.
                self._in_flight -= 1
            elif waiter.queued:
                self._leave(waiter)
            self._dispatch()
            raise
        finally:
            if party is not None:
                party._queued.remove((self, waiter))

    def _queue(self, person: Person, waiter: _Waiter) -> None:
        waiter.people.append(person)
        queue = self._people.get(person)
        if queue is None:
            queue = self._people[person] = deque()
            self._rotation.append(person)
        queue.append(waiter)

    def _leave(self, waiter: _Waiter) -> None:
        """A waiter cancelled in the queue: out of every queue it stood in."""
        waiter.queued = False
        self._waiting[waiter.background] -= 1
        if waiter.background:
            self._background.remove(waiter)
        self._unqueue(waiter, waiter.people)

    def _unqueue(self, waiter: _Waiter, people: list[Person]) -> None:
        for person in people:
            queue = self._people[person]
            queue.remove(waiter)
            if not queue:
                del self._people[person]
                self._rotation.remove(person)

    def _activate(self, background: bool) -> None:
        """A class that starts waiting again starts no lower than the latest grant: the
        grants it sat out are no credit to spend later in a burst."""
        self._pass[background] = max(self._pass[background], self._latest)

    def _take(self, background: bool) -> None:
        self._latest = self._pass[background]
        self._pass[background] += BACKGROUND_STRIDE if background else INTERACTIVE_STRIDE
        self._in_flight += 1

    def _dispatch(self) -> None:
        """Let go as many waiters as units are free; otherwise wake up when one frees."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self._now()
        while self._waiting[True] or self._waiting[False]:
            wait = self._wait(now)
            if wait > 0:
                if not math.isinf(wait):
                    loop = asyncio.get_running_loop()
                    self._timer = loop.call_at(now + wait + _EPSILON, self._dispatch)
                return
            background = self._next_class()
            waiter = self._background.popleft() if background else self._next_person()
            waiter.queued = False
            self._waiting[background] -= 1
            if waiter.future.cancelled():
                continue  # its task is being cancelled: the turn goes to the next one
            self._take(background)
            waiter.future.set_result(None)

    def _next_class(self) -> bool:
        if not self._waiting[False]:
            return True
        if not self._waiting[True]:
            return False
        return self._pass[True] < self._pass[False]

    def _next_person(self) -> _Waiter:
        """The first call of the person whose turn it is; that person goes to the back."""
        person = self._rotation.popleft()
        queue = self._people[person]
        waiter = queue.popleft()
        if queue:
            self._rotation.append(person)
        else:
            del self._people[person]
        # A party's call stands in its other people's queues too; their turns stay theirs.
        self._unqueue(waiter, [p for p in waiter.people if p != person])
        return waiter

    def _wait(self, now: float) -> float:
        """How long until a unit is free (inf: until a call under way ends)."""
        if self._paused_until > now:
            return self._paused_until - now
        answered = self._counting(now)
        free = self.units - self._in_flight
        if len(answered) < free:
            return 0.0
        if free <= 0:
            return math.inf
        return answered[len(answered) - free] + self.window - now

    def _counting(self, now: float) -> deque[float]:
        answered = self._answered
        while answered and answered[0] + self.window <= now:
            answered.popleft()
        return answered

    def _now(self) -> float:
        # The running loop's clock: the one the network's timeouts run on, and in a
        # simulation its virtual time.
        return asyncio.get_running_loop().time()
