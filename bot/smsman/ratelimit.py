"""One pacing limiter shared by every SMS-man call, so the bot never exceeds SMSMAN_MAX_RPS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateLimiter:
    """Hands out evenly spaced start slots: at most `rate` calls start in any one second.

    Even spacing (rather than bursts of `rate`) keeps the provider load flat and lets waiters
    queue in arrival order without a lock: each caller reserves the next free slot at once.
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

    @property
    def rate(self) -> float:
        return 1.0 / self._interval

    async def acquire(self) -> None:
        now = self._clock()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval
        if slot > now:
            await self._sleep(slot - now)
