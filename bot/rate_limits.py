"""Per-person limits: sliding windows (so many in the last so many seconds) and token buckets."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable

from bot.clock import Clock


class SlidingWindow:
    """At most `limit` events per `seconds` for each key, on an injectable clock.

    An event taken at `t` counts until `t + seconds` (then the next one may come). Keys with no
    event left in their window are forgotten, so memory follows the people active lately.
    """

    def __init__(self, limit: int, seconds: float, clock: Clock) -> None:
        if limit < 1 or seconds <= 0:
            raise ValueError("a window takes at least one event over some time")
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        # By key, its events' times; keys ordered by their latest event, oldest first.
        self._events: OrderedDict[Hashable, deque[float]] = OrderedDict()

    def take(self, key: Hashable) -> float:
        """Count an event for `key` now and return 0, or, when the window is full, count
        nothing and return the seconds until an event may be taken again."""
        now = self._clock()
        self._forget_idle(now)
        times = self._events.get(key)
        if times is None:
            times = self._events[key] = deque()
        while times and times[0] <= now - self.seconds:
            times.popleft()
        if len(times) >= self.limit:
            return times[len(times) - self.limit] + self.seconds - now
        times.append(now)
        self._events.move_to_end(key)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        while self._events:
            key, times = next(iter(self._events.items()))
            if times and times[-1] > now - self.seconds:
                return
            del self._events[key]

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._events)


class TokenBucket:
    """`rate` events a second for each key after a burst of `burst`, on an injectable clock.

    Each key's bucket holds up to `burst` tokens and refills at `rate` a second; an event
    takes one. A key whose bucket is full again is forgotten: it would start as a new one.
    """

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a bucket refills and holds at least one token")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        # By key, (tokens, when they were counted); keys ordered by that moment, oldest first.
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def take(self, key: Hashable) -> float:
        """Take a token for `key` now and return 0, or, with none left, take nothing and
        return the seconds until one is there."""
        now = self._clock()
        self._forget_full(now)
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens < 1:
            return (1 - tokens) / self.rate
        self._buckets[key] = (tokens - 1, now)
        self._buckets.move_to_end(key)
        return 0.0

    def _forget_full(self, now: float) -> None:
        while self._buckets:
            key, (tokens, at) = next(iter(self._buckets.items()))
            if tokens + (now - at) * self.rate < self.burst:
                return
            del self._buckets[key]

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._buckets)
