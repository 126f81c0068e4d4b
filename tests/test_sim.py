"""The simulation harness: virtual time, inline sqlite, in-process transports."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from pydantic import SecretStr

from bot.smsman.client import SmsManClient
from bot.smsman.emulator import RequestStatus, SmsManEmulator
from bot.smsman.errors import ProviderTimeout, ProviderUnavailable
from bot.smsman.ratelimit import RateLimiter
from tests.conftest import ALLOWED_ID, SMSMAN_TOKEN
from tests.emulators.telegram import DEFAULT_TOKEN, TelegramEmulator
from tests.sim import sqlite
from tests.sim.effects import Crashed, Effects
from tests.sim.loop import Deadlock, VirtualTimeLoop, virtual_loop
from tests.sim.smsman_transport import InProcessTransport
from tests.sim.telegram_session import InProcessSession

USA, TELEGRAM = 5, 3


@pytest.fixture
def loop() -> Iterator[VirtualTimeLoop]:
    with virtual_loop() as loop:
        yield loop


# The loop


def test_an_hour_of_sleeps_passes_at_once_and_in_order(loop: VirtualTimeLoop) -> None:
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        woke.append((name, loop.time()))

    async def main() -> None:
        await asyncio.gather(
            sleeper("hour", 3600), sleeper("second", 1), sleeper("minute", 60), sleeper("now", 0)
        )

    started = time.perf_counter()
    loop.run(main())
    assert woke == [("now", 0.0), ("second", 1.0), ("minute", 60.0), ("hour", 3600.0)]
    loop.advance(90)
    assert loop.time() == 3690.0
    assert time.perf_counter() - started < 1


def test_timeouts_fire_in_virtual_time(loop: VirtualTimeLoop) -> None:
    async def too_slow() -> None:
        async with asyncio.timeout(30):
            await asyncio.sleep(31)

    with pytest.raises(TimeoutError):
        loop.run(too_slow())
    assert loop.time() == 30.0


def test_a_wait_for_nothing_is_a_deadlock_not_a_hang(loop: VirtualTimeLoop) -> None:
    async def waits_for_the_other(mine: asyncio.Event, theirs: asyncio.Event) -> None:
        await theirs.wait()
        mine.set()

    async def main() -> None:
        a, b = asyncio.Event(), asyncio.Event()
        await asyncio.gather(waits_for_the_other(a, b), waits_for_the_other(b, a))

    with pytest.raises(Deadlock, match="wait forever"):
        loop.run(main())


def test_threads_are_refused(loop: VirtualTimeLoop) -> None:
    with pytest.raises(RuntimeError, match="run_in_executor"):
        loop.run(asyncio.to_thread(print, "from a thread"))
    [refused] = loop.exception_events
    assert "run_in_executor" in refused["message"], "visible even if the caller catches it"


# Effects and inline sqlite


def test_an_armed_crash_stops_that_effect_and_every_later_one() -> None:
    effects = Effects()
    effects.arm(2)
    effects.before("one")
    effects.before("two")
    with pytest.raises(Crashed):
        effects.before("three")
    with pytest.raises(Crashed):
        effects.before("four")
    assert (effects.count, list(effects.recent), effects.crashed_before) == (
        2,
        ["one", "two"],
        "three",
    )
    effects.revive()
    effects.before("five")
    assert effects.count == 3


def test_inline_sqlite_uses_no_thread_and_a_crash_rolls_back(
    loop: VirtualTimeLoop, tmp_path: Path
) -> None:
    path = tmp_path / "db.sqlite3"
    effects = Effects()
    threads = threading.active_count()

    async def write_half_a_transaction() -> sqlite.InlineConnection:
        db = await sqlite.connect(path, effects, isolation_level=None)
        await db.execute("CREATE TABLE t (x INTEGER)")
        await db.execute("BEGIN")
        await db.execute("INSERT INTO t VALUES (1)")
        assert isinstance(db, sqlite.InlineConnection)
        return db

    db = loop.run(write_half_a_transaction())
    assert threading.active_count() == threads
    effects.crash()
    with pytest.raises(Crashed):
        loop.run(db.execute("INSERT INTO t VALUES (2)"))
    db.abandon()
    effects.revive()

    async def count() -> int:
        async with sqlite.connect(path, effects) as again:
            rows = await again.execute_fetchall("SELECT count(*) FROM t")
            return int(next(iter(rows))[0])

    assert loop.run(count()) == 0
    assert effects.recent[0] == "sqlite connect"
    assert "sqlite Connection.execute INSERT INTO t VALUES (1)" in effects.recent


# In-process transports


def test_telegram_errors_are_aiograms_own(loop: VirtualTimeLoop) -> None:
    telegram = TelegramEmulator(DEFAULT_TOKEN)
    effects = Effects()
    bot = Bot(DEFAULT_TOKEN, session=InProcessSession(telegram, effects))
    telegram.user(ALLOWED_ID)
    telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(TelegramRetryAfter) as retry:
        loop.run(bot.send_message(ALLOWED_ID, "hi"))
    assert retry.value.retry_after == 7
    telegram.block(ALLOWED_ID)
    with pytest.raises(TelegramForbiddenError):
        loop.run(bot.send_message(ALLOWED_ID, "hi"))
    assert [c.method for c in telegram.calls] == ["sendMessage", "sendMessage"]
    assert list(effects.recent) == ["telegram sendMessage", "telegram sendMessage"]


def test_telegram_params_arrive_as_the_form_would_carry_them(loop: VirtualTimeLoop) -> None:
    telegram = TelegramEmulator(DEFAULT_TOKEN)
    session = InProcessSession(telegram, Effects())
    bot = Bot(DEFAULT_TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    user = telegram.user(ALLOWED_ID)
    loop.run(bot.send_message(ALLOWED_ID, "<b>hi</b> there", disable_notification=True))
    [call] = telegram.calls
    # A str enum such as ParseMode.HTML arrives as its text, a bool as a decoded form value.
    assert call.params == {
        "chat_id": ALLOWED_ID,
        "text": "<b>hi</b> there",
        "parse_mode": "HTML",
        "disable_notification": True,
    }
    assert user.bot_messages[0].text == "hi there"


def smsman_client(emulator: SmsManEmulator) -> SmsManClient:
    transport = InProcessTransport(emulator, Effects())
    http = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(15.0))
    return SmsManClient(
        http, "http://smsman.invalid/control", SecretStr(SMSMAN_TOKEN), RateLimiter(5)
    )


def test_a_late_answer_is_a_timeout_after_the_purchase(loop: VirtualTimeLoop) -> None:
    emulator = SmsManEmulator(token=SMSMAN_TOKEN, clock=loop.time)
    emulator.fail_next("get-number", "late_answer", seconds=60)
    client = smsman_client(emulator)
    with pytest.raises(ProviderTimeout) as timeout:
        loop.run(client.get_number(USA, TELEGRAM))
    assert timeout.value.outcome_unknown is True
    assert loop.time() == 15.0, "the client's read timeout, in virtual time"
    [request] = emulator.requests
    assert request.status is RequestStatus.WAITING
    assert emulator.spent == request.cost


def test_a_dropped_connection_is_provider_unavailable(loop: VirtualTimeLoop) -> None:
    emulator = SmsManEmulator(token=SMSMAN_TOKEN, clock=loop.time)
    emulator.fail_next("get-number", "drop")
    client = smsman_client(emulator)
    with pytest.raises(ProviderUnavailable, match="RemoteProtocolError") as dropped:
        loop.run(client.get_number(USA, TELEGRAM))
    assert not isinstance(dropped.value, ProviderTimeout)
    assert dropped.value.outcome_unknown is True
    assert emulator.calls[0].answer == "fault:drop"
    # A normal answer still gets through the same transport.
    assert loop.run(client.get_balance()) == Decimal("1000.00")
