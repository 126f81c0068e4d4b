"""Floods end to end: a polite person's codes still go out, a flooder is held and told once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from benchmarks.common import busiest_second
from bot.telegram.gate import RUNNING, WAITING
from emulators.smsman import SmsManEmulator
from emulators.telegram import SimUser, TelegramEmulator
from tests.conftest import ALLOWED_ID, FakeClock, RunBot, make_settings
from tests.flows import main_menu
from tests.test_e2e_send_limits import PACED, codes_in, seeded, sms_for_all

FLOODERS = 36
FIRST_FLOODER = 700_000
SLOW_DOWN = "That was a lot at once"


@contextlib.asynccontextmanager
async def flooding(users: list[SimUser], every: float) -> AsyncIterator[None]:
    """Each of `users` sends /start every `every` seconds, answered or not, until the end."""

    async def flood(user: SimUser) -> None:
        while True:
            await user.send("/start")
            await asyncio.sleep(every)

    tasks = [asyncio.create_task(flood(user)) for user in users]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_codes_go_out_at_once_while_three_dozen_people_send_start_in_a_loop(
    tmp_path: Path,
    telegram: TelegramEmulator,
    smsman: SmsManEmulator,
    clock: FakeClock,
    run_bot: RunBot,
) -> None:
    """Three dozen chats asking for a menu every second want more than Telegram's 30:
    menus alone would take it all. Codes keep two thirds of it while they wait."""
    [polite], requests = await seeded(tmp_path, telegram, smsman, clock, people=1, orders=2)
    flooders = [telegram.user(FIRST_FLOODER + n) for n in range(FLOODERS)]
    limits = telegram.enforce_limits()
    async with run_bot(make_settings(tmp_path, smsman, telegram, **PACED)):
        await main_menu(flooders[0])
        async with flooding(flooders, every=1.0):
            # Until the menus fill Telegram's limit: a full second of sends.
            await telegram.wait_until(lambda: busiest_second(limits.sent) >= 29, timeout=10)
            sms_for_all(smsman, requests)
            # Polled within 0.05 s; then only the pacer stands between the codes and the chat.
            await telegram.wait_until(lambda: len(codes_in(polite)) == 2, timeout=2)

    assert sorted(codes_in(polite)) == sorted(f"{request:06d}" for request in requests)
    assert limits.refused == 0
    assert busiest_second(limits.sent) <= 30


async def test_one_flooder_gets_a_few_answers_and_one_slow_down(
    telegram: TelegramEmulator, bot_app: object
) -> None:
    flooder, polite = telegram.user(FIRST_FLOODER), telegram.user(ALLOWED_ID)
    for _ in range(30):
        await flooder.send("/start")
    await flooder.wait_for_text(SLOW_DOWN)
    # The flood does not hold anybody else up.
    await main_menu(polite)
    await telegram.wait_until(lambda: not telegram.pending_updates)
    await telegram.wait_until(lambda: len(flooder.bot_messages) >= RUNNING + WAITING + 1)
    await asyncio.sleep(0.2)

    texts = [message.text for message in flooder.bot_messages]
    assert sum("Hi," in text for text in texts) == RUNNING + WAITING
    assert sum(SLOW_DOWN in text for text in texts) == 1, "one notice, not one a dropped update"
