"""Property tests: random and mutated callback data and texts never crash the bot or buy."""

from __future__ import annotations

import logging

import pytest
from aiogram.filters.callback_data import CallbackData
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.factory import Application
from bot.person_rates import SEARCHES_PER_SECOND
from emulators.smsman import SmsManEmulator
from emulators.telegram import TelegramEmulator
from keyboards.callbacks import (
    AdminOrderCb,
    AllAppsCb,
    AppsCb,
    BuyCb,
    CheapestCb,
    CountriesCb,
    HistoryCb,
    LanguageCb,
    MenuCb,
    NoopCb,
    OrderCb,
    PriceCb,
)
from tests.conftest import ALLOWED_ID, FakeClock

FACTORIES: list[type[CallbackData]] = [
    MenuCb,
    LanguageCb,
    CountriesCb,
    AppsCb,
    AllAppsCb,
    CheapestCb,
    PriceCb,
    BuyCb,
    OrderCb,
    HistoryCb,
    AdminOrderCb,
    NoopCb,
]
PREFIXES = ["m", "l", "c", "a", "g", "x", "p", "b", "o", "h", "z", "n"]
HOSTILE = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Where bugs hide: sqlite's largest INTEGER and one past it, 25 digits, a page past the bound.
BOUNDARIES = ["9223372036854775807", "9223372036854775808", "1" * 25, "999999", "1000000"]
field = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(BOUNDARIES),
    st.sampled_from(["", "0", "1", "3", "5", "en", "zh", "-1", "nan", "1e9", "٣", "１"]),
    st.text(max_size=8).filter(lambda s: ":" not in s),
)
mutated = st.builds(
    lambda prefix, fields: ":".join([prefix, *fields]),
    st.sampled_from(PREFIXES),
    st.lists(field, max_size=4),
)
callback_data = st.one_of(mutated, st.text(min_size=1, max_size=30)).filter(
    lambda s: 0 < len(s.encode()) <= 64
)


def understood(data: str) -> bool:
    for factory in FACTORIES:
        try:
            factory.unpack(data)
        except (TypeError, ValueError):
            continue
        return True
    return False


@pytest.fixture
def errors(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.ERROR)
    return caplog


async def tap(telegram: TelegramEmulator, data: str) -> str | None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    if not user.bot_messages:
        await user.send("/start")
        await user.wait_for_text("Hi,")
    answer = await (await user.tap_data(data, message=user.bot_messages[0])).answered(timeout=10)
    return answer.text


@HOSTILE
@given(data=callback_data.filter(lambda data: not understood(data)))
async def test_data_no_button_carries_never_reaches_the_provider(
    telegram: TelegramEmulator,
    smsman: SmsManEmulator,
    bot_app: Application,
    errors: pytest.LogCaptureFixture,
    data: str,
) -> None:
    assert "no longer active" in (await tap(telegram, data) or "")
    assert smsman.calls == [], f"{data!r} reached the provider"
    assert not errors.records, errors.text


@HOSTILE
@given(data=callback_data)
async def test_forged_callback_data_is_answered_without_errors(
    telegram: TelegramEmulator,
    smsman: SmsManEmulator,
    bot_app: Application,
    errors: pytest.LogCaptureFixture,
    data: str,
) -> None:
    # Data that parses may browse, and even buy on the person's own quote: that is a tap.
    await tap(telegram, data)
    assert not errors.records, errors.text


@HOSTILE
@given(text=st.text(min_size=1, max_size=200).filter(lambda s: s.strip()))
async def test_hostile_texts(
    telegram: TelegramEmulator,
    smsman: SmsManEmulator,
    bot_app: Application,
    errors: pytest.LogCaptureFixture,
    clock: FakeClock,
    text: str,
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    replies = len(user.bot_messages)
    clock.advance(1 / SEARCHES_PER_SECOND)  # one person's texts, at a pace the bot takes
    await user.send(text)
    await user.wait_for(lambda u: len(u.bot_messages) > replies, timeout=10)
    assert not any(c.endpoint == "get-number" for c in smsman.calls)
    assert not errors.records, errors.text


@pytest.mark.parametrize("page", [*BOUNDARIES, "1"])
async def test_history_pages_past_the_end_are_stale(
    telegram: TelegramEmulator, bot_app: Application, errors: pytest.LogCaptureFixture, page: str
) -> None:
    """The person has no past numbers: no button of ours points at any page but the first."""
    assert "no longer active" in (await tap(telegram, f"h:{page}") or "")
    assert not errors.records, errors.text
