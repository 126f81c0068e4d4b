"""Telegram's send limits on, end to end: bursts of codes arrive whole, in order, without a 429."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from benchmarks.common import busiest_second, seed_orders
from emulators.smsman import SmsManEmulator
from emulators.telegram import ChatMessage, SimUser, TelegramEmulator
from tests.conftest import FakeClock, RunBot, make_settings

FIRST_ID = 500_000
# Sends the pacer had let go before a 429 came back may still arrive this long after it.
IN_FLIGHT = 0.1
PACED = {"telegram_max_sends_per_s": 30, "telegram_chat_sends_per_s": 1}


def codes_in(user: SimUser) -> list[str]:
    """The codes pushed to the person, in the order their messages came."""
    return [
        message.text.split(" code: ", 1)[1].split(" for ", 1)[0]
        for message in user.bot_messages
        if " code: " in message.text
    ]


def cards_done(user: SimUser) -> bool:
    """Every card in the chat redrawn to show its code."""
    cards: list[ChatMessage] = [m for m in user.bot_messages if m.text.startswith("📱")]
    return bool(cards) and all("Code received" in card.text for card in cards)


def sms_for_all(smsman: SmsManEmulator, requests: list[int]) -> None:
    """An SMS for every request at once; each code is its request id in six digits."""
    for request in requests:
        smsman.deliver_sms(request, f"{request:06d}")


async def seeded(
    tmp_path: Path, telegram: TelegramEmulator, smsman: SmsManEmulator, clock: FakeClock, **kw: int
) -> tuple[list[SimUser], list[int]]:
    people, orders = kw["people"], kw["orders"]
    users = [telegram.user(FIRST_ID + n) for n in range(people)]
    requests = await seed_orders(
        tmp_path / "bot.sqlite3",
        smsman,
        orders,
        [user.id for user in users],
        cards=telegram,
        now=clock(),
    )
    return users, requests


async def test_a_burst_beyond_the_overall_limit_arrives_whole_without_a_429(
    tmp_path: Path,
    telegram: TelegramEmulator,
    smsman: SmsManEmulator,
    clock: FakeClock,
    run_bot: RunBot,
) -> None:
    users, requests = await seeded(tmp_path, telegram, smsman, clock, people=50, orders=50)
    limits = telegram.enforce_limits()
    async with run_bot(make_settings(tmp_path, smsman, telegram, **PACED)):
        sms_for_all(smsman, requests)
        # 50 codes and 50 card redraws, at 30 a second: a few seconds.
        await telegram.wait_until(lambda: all(map(cards_done, users)), timeout=15)

    for user, request in zip(users, requests, strict=True):
        assert codes_in(user) == [f"{request:06d}"]
    assert limits.refused == 0
    assert busiest_second(limits.sent) <= 30


async def test_one_chat_gets_codes_that_came_together_all_and_in_order(
    tmp_path: Path,
    telegram: TelegramEmulator,
    smsman: SmsManEmulator,
    clock: FakeClock,
    run_bot: RunBot,
) -> None:
    [user], requests = await seeded(tmp_path, telegram, smsman, clock, people=1, orders=4)
    limits = telegram.enforce_limits()
    settings = make_settings(tmp_path, smsman, telegram, max_active_orders=4, **PACED)
    async with run_bot(settings):
        sms_for_all(smsman, requests)
        # Four codes and four card redraws in one chat, at one a second after a burst: ~7 s.
        await telegram.wait_until(lambda: cards_done(user), timeout=15)

    with sqlite3.connect(tmp_path / "bot.sqlite3") as raw:
        learned = [row[0] for row in raw.execute("SELECT code FROM codes ORDER BY id")]
    assert sorted(learned) == sorted(f"{request:06d}" for request in requests)
    assert codes_in(user) == learned, "pushed in the order the bot learned them"
    assert limits.refused == 0


async def test_a_429_that_still_comes_pauses_every_send_and_loses_nothing(
    tmp_path: Path,
    telegram: TelegramEmulator,
    smsman: SmsManEmulator,
    clock: FakeClock,
    run_bot: RunBot,
) -> None:
    users, requests = await seeded(tmp_path, telegram, smsman, clock, people=10, orders=10)
    telegram.enforce_limits()
    telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 2", retry_after=2)
    async with run_bot(make_settings(tmp_path, smsman, telegram, **PACED)):
        sms_for_all(smsman, requests)
        await telegram.wait_until(lambda: all(map(cards_done, users)), timeout=15)

    for user, request in zip(users, requests, strict=True):
        assert codes_in(user) == [f"{request:06d}"], "each code once, the refused one too"
    [refused] = [call for call in telegram.calls if call.error_code == 429]
    # Calls already on their way when the 429 came back may land just after it; nothing else
    # goes out until its retry_after has passed.
    paused = [
        call
        for call in telegram.calls
        if call.ok
        and call.method in ("sendMessage", "editMessageText")
        and refused.time + IN_FLIGHT < call.time < refused.time + 2
    ]
    assert paused == []
