"""One pacing limiter shared by every SMS-man call, so the bot never exceeds SMSMAN_MAX_RPS."""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Awaitable, Callable

# The provider counts requests as they arrive, and network and server delays vary from one
# request to the next: starting calls a little further apart than the rate allows keeps every
# one second at the provider's end within the rate too.
HEADROOM = 0.05
# How many slots late a background wake-up may be and still be made up for (a short burst).
CATCH_UP = 4


class RateLimiter:
    """Hands out evenly spaced start slots: at most `rate` calls start in any one second.

    Slots are `(1 + HEADROOM) / rate` apart (a rate above 1 rounded down to whole calls), and
    on top of that no more calls ever start within `1 + HEADROOM` seconds (within one slot, for
    a rate below 1) than evenly spaced slots would give. Even spacing (rather than bursts of
    `rate`) keeps the provider load flat. Interactive callers reserve the next free slot at
    once, in arrival order. Background callers (the code poller) take a slot only when no
    interactive call is queued, so a person's tap never waits behind a backlog of polls; they
    queue among themselves on a lock so only one of them is awake at a time.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._rate = rate
        # Whole calls per second: at 2.5 a second, any one second may hold 2 calls, not 3.
        whole = max(1, math.floor(rate))
        self._interval = (1 + HEADROOM) / (whole if rate >= 1 else rate)
        self._clock = clock or _loop_time
        self._sleep = sleep
        self._next_slot = float("-inf")
        self._background = asyncio.Lock()
        # When the last calls started, as many as one window allows: the hard cap, whatever
        # catching up with a late wake-up did to the spacing. The window is as wide as the
        # spacing they would have had, so an evenly paced call never waits for it.
        self._starts: deque[float] = deque(maxlen=whole)
        self._window = whole * self._interval

    @property
    def rate(self) -> float:
        return self._rate

    async def acquire(self, *, background: bool = False) -> None:
        if background:
            async with self._background:
                while (backlog := self._next_slot - self._clock()) > 0:
                    await self._sleep(backlog)
                now = self._clock()
                # Paced from the slot, not from the wake-up: a sleep ends late (timer
                # granularity, a busy event loop), and adding that lateness to every gap cost
                # the poller a tenth of the rate. The next calls make up for a few late slots;
                # more than that is an idle gap, not lost pace.
                idle = now - self._next_slot >= CATCH_UP * self._interval
                self._next_slot = (now if idle else self._next_slot) + self._interval
                await self._start()
            return
        now = self._clock()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval
        if slot > now:
            await self._sleep(slot - now)
        await self._start()

    async def _start(self) -> None:
        starts = self._starts
        while len(starts) == starts.maxlen:
            wait = starts[0] + self._window - self._clock()
            if wait <= 0:
                break
            await self._sleep(wait)
        starts.append(self._clock())


def _loop_time() -> float:
    # The running loop's clock rather than time.monotonic: the same on a normal loop, and it
    # follows a simulation's virtual time without anyone passing a clock in.
    return asyncio.get_running_loop().time()
