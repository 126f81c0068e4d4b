"""The shared SMS-man rate limiter, on a fake clock."""

from __future__ import annotations

import asyncio
import itertools
import math

import pytest

from bot.smsman.ratelimit import HEADROOM, RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.starts: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_spaces_calls_evenly_and_never_exceeds_rate() -> None:
    t = FakeTime()
    limiter = RateLimiter(5, clock=t.clock, sleep=t.sleep)
    for _ in range(20):
        await limiter.acquire()
        t.starts.append(t.now)
    gaps = [b - a for a, b in zip(t.starts, t.starts[1:], strict=False)]
    assert all(gap == pytest.approx(0.2 * (1 + HEADROOM)) for gap in gaps)
    for start in t.starts:
        assert sum(1 for s in t.starts if start <= s < start + 1) <= 5


async def test_idle_time_is_not_saved_up_for_a_burst() -> None:
    t = FakeTime()
    limiter = RateLimiter(2, clock=t.clock, sleep=t.sleep)
    await limiter.acquire()
    t.now += 60
    first = t.now
    await limiter.acquire()
    await limiter.acquire()
    assert t.now == pytest.approx(first + 0.5 * (1 + HEADROOM))


async def test_concurrent_waiters_get_distinct_slots() -> None:
    limiter = RateLimiter(1000)
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def call() -> None:
        await limiter.acquire()
        starts.append(loop.time())

    await asyncio.gather(*(call() for _ in range(10)))
    assert len(starts) == 10
    assert max(starts) - min(starts) >= 0.009 - 0.002


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)


async def test_interactive_calls_go_before_queued_background_calls() -> None:
    # Real time here: the point is which waiter wakes first, so sleeping must really yield.
    limiter = RateLimiter(20)
    order: list[str] = []

    async def call(name: str, background: bool) -> None:
        await limiter.acquire(background=background)
        order.append(name)

    await limiter.acquire()  # the next slot is now taken: every newcomer has to wait
    polls = [asyncio.create_task(call(f"poll{i}", True)) for i in range(3)]
    await asyncio.sleep(0)
    tap = asyncio.create_task(call("tap", False))
    await asyncio.gather(*polls, tap)
    assert order[0] == "tap"
    assert order[1:] == ["poll0", "poll1", "poll2"]


async def test_background_calls_keep_the_spacing() -> None:
    t = FakeTime()
    limiter = RateLimiter(4, clock=t.clock, sleep=t.sleep)
    starts: list[float] = []
    for _ in range(6):
        await limiter.acquire(background=True)
        starts.append(t.now)
        await limiter.acquire()
        starts.append(t.now)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= 0.25 - 1e-9 for gap in gaps)


class LateTime(FakeTime):
    """A busy event loop: every sleep ends up to `late` seconds after it was due."""

    def __init__(self, late: list[float]) -> None:
        super().__init__()
        self._late = itertools.cycle(late)

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + next(self._late)


@pytest.mark.parametrize("late", [[0.002, 0.0, 0.004, 0.001], [0.012, 0.0, 0.0, 0.0, 0.0]])
async def test_late_wake_ups_do_not_slow_the_background_pace(late: list[float]) -> None:
    t = LateTime(late)
    limiter = RateLimiter(200, clock=t.clock, sleep=t.sleep)
    for _ in range(1000):
        await limiter.acquire(background=True)
        t.starts.append(t.now)
    mean_gap = (t.starts[-1] - t.starts[0]) / (len(t.starts) - 1)
    assert mean_gap == pytest.approx((1 + HEADROOM) / 200, rel=0.01)


@pytest.mark.parametrize(
    "late", [[0.0], [0.004, 0.0], [0.0, 0.0, 0.009], [0.018, 0.0, 0.0, 0.001], [0.03, 0.0]]
)
async def test_never_more_than_the_rate_in_any_second_however_late_the_wake_ups(
    late: list[float],
) -> None:
    t = LateTime(late)
    limiter = RateLimiter(200, clock=t.clock, sleep=t.sleep)
    for n in range(1500):
        await limiter.acquire(background=n % 7 != 0)
        t.starts.append(t.now)
    for k in range(len(t.starts) - 200):
        assert t.starts[k + 200] - t.starts[k] >= 1 + HEADROOM - 1e-9


@pytest.mark.parametrize("rate", [0.5, 1.5, 2.5, 3.0])
async def test_even_pacing_never_runs_into_the_cap(rate: float) -> None:
    """At a fractional rate the spacing once allowed more calls than the cap: background calls
    then queued at the cap beside taps, which gave taps no priority, and a tap waited behind
    five busy pollers for seconds. Evenly paced calls must never need the cap."""
    t = FakeTime()
    limiter = RateLimiter(rate, clock=t.clock, sleep=t.sleep)
    for n in range(30):
        await limiter.acquire(background=n % 3 != 0)
        t.starts.append(t.now)
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(t.starts)}
    whole = max(1, math.floor(rate))
    assert gaps == {round((1 + HEADROOM) / (whole if rate >= 1 else rate), 9)}
    window = 1.0 if rate >= 1 else 1 / rate
    for k in range(len(t.starts) - whole):
        assert t.starts[k + whole] - t.starts[k] >= window
