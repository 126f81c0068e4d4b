"""Per-person limits at their boundaries, on a clock the test moves: no sleeping."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.rate_limits import SlidingWindow, TokenBucket
from tests.conftest import FakeClock


def test_the_limit_holds_until_the_oldest_event_leaves_the_window() -> None:
    clock = FakeClock(0.0)  # times exact in binary, so the edges are exact
    window = SlidingWindow(2, 1.0, clock)
    assert window.take("ann") == 0
    clock.advance(0.25)
    assert window.take("ann") == 0
    assert window.take("ann") == 0.75, "full: the first leaves 0.75 s from now"
    clock.advance(0.7421875)
    assert window.take("ann") == 0.0078125, "a moment before the second"
    clock.advance(0.0078125)
    assert window.take("ann") == 0, "at the very second the first no longer counts"
    assert window.take("ann") == 0.25


def test_a_refused_event_counts_for_nothing_and_people_are_apart() -> None:
    clock = FakeClock()
    window = SlidingWindow(1, 60.0, clock)
    assert window.take(1) == 0
    for _ in range(5):
        clock.advance(10)
        assert window.take(1) > 0
    assert window.take(2) == 0, "another person's window is their own"
    clock.advance(10)
    assert window.take(1) == 0, "sixty seconds after the one event taken"


def test_people_with_nothing_in_their_window_are_forgotten() -> None:
    clock = FakeClock()
    window = SlidingWindow(3, 1.0, clock)
    for person in range(1000):
        window.take(person)
    assert len(window) == 1000
    clock.advance(1.0)
    window.take("someone new")
    assert len(window) == 1


@given(
    limit=st.integers(1, 4),
    steps=st.lists(
        st.tuples(st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5]), st.integers(0, 2)), max_size=60
    ),
)
def test_a_window_agrees_with_counting_every_event(
    limit: int, steps: list[tuple[float, int]]
) -> None:
    """Against the plain rule, at moments that fall on the window's edges: an event is taken
    when fewer than `limit` taken ones are younger than a second, and the wait it returns is
    until exactly that is true again."""
    clock = FakeClock(0.0)
    window = SlidingWindow(limit, 1.0, clock)
    taken: dict[int, list[float]] = {}
    for pause, person in steps:
        clock.advance(pause)
        now = clock()
        mine = taken.setdefault(person, [])
        younger = [at for at in mine if at > now - 1.0]
        wait = window.take(person)
        if len(younger) < limit:
            assert wait == 0
            mine.append(now)
        else:
            assert wait == younger[-limit] + 1.0 - now > 0


def test_a_bucket_takes_its_burst_at_once_then_its_rate() -> None:
    clock = FakeClock(0.0)
    bucket = TokenBucket(2.0, 3, clock)
    assert [bucket.take("ann") for _ in range(3)] == [0, 0, 0]
    assert bucket.take("ann") == 0.5, "empty: the next token in half a second"
    clock.advance(0.25)
    assert bucket.take("ann") == 0.25
    clock.advance(0.25)
    assert bucket.take("ann") == 0, "at the very moment it is there"
    assert bucket.take("ann") == 0.5
    assert bucket.take("bob") == 0, "another person's bucket is full"


def test_people_whose_bucket_is_full_again_are_forgotten() -> None:
    clock = FakeClock(0.0)
    bucket = TokenBucket(2.0, 4, clock)
    for person in range(1000):
        bucket.take(person)
    assert len(bucket) == 1000
    clock.advance(0.25)
    bucket.take("someone")
    assert len(bucket) == 1001, "half a token short of full"
    clock.advance(0.25)
    bucket.take("someone else")
    assert len(bucket) == 2


@given(
    burst=st.integers(1, 4),
    steps=st.lists(
        st.tuples(st.sampled_from([0.0, 0.125, 0.25, 0.5, 2.0]), st.integers(0, 2)), max_size=60
    ),
)
def test_a_bucket_agrees_with_counting_tokens(burst: int, steps: list[tuple[float, int]]) -> None:
    """Against the plain rule, at moments on token boundaries (exact in binary): a token a
    quarter second, at most `burst` kept."""
    clock = FakeClock(0.0)
    bucket = TokenBucket(4.0, burst, clock)
    tokens: dict[int, tuple[float, float]] = {}
    for pause, person in steps:
        clock.advance(pause)
        now = clock()
        held, at = tokens.get(person, (burst, now))
        held = min(burst, held + (now - at) * 4)
        wait = bucket.take(person)
        if held >= 1:
            assert wait == 0
            tokens[person] = (held - 1, now)
        else:
            assert wait == (1 - held) / 4 > 0
            tokens[person] = (held, now)
