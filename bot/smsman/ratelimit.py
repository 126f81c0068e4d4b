"""One pacing limiter shared by every SMS-man call, so the bot never exceeds SMSMAN_MAX_RPS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateLimiter:
    """Hands out evenly spaced start slots: at most `rate` calls start in any one second.

    Even spacing (rather than bursts of `rate`) keeps the provider load flat. Interactive
    callers reserve the next free slot at once, in arrival order. Background callers (the code
    poller) take a slot only when no interactive call is queued, so a person's tap never waits
    behind a backlog of polls; they queue among themselves on a lock so only one of them is
    awake at a time.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next_slot = float("-inf")
        self._background = asyncio.Lock()

    @property
    def rate(self) -> float:
        return 1.0 / self._interval

    async def acquire(self, *, background: bool = False) -> None:
        if background:
            async with self._background:
                while (backlog := self._next_slot - self._clock()) > 0:
                    await self._sleep(backlog)
                self._next_slot = self._clock() + self._interval
            return
        now = self._clock()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval
        if slot > now:
            await self._sleep(slot - now)
