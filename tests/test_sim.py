"""The simulation harness: virtual time, inline sqlite, in-process transports, crashes, replay."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from pydantic import SecretStr

from bot.smsman.client import SmsManClient
from bot.smsman.errors import ProviderTimeout, ProviderUnavailable
from bot.smsman.ratelimit import RateLimiter
from emulators.smsman import RequestStatus, SmsManEmulator
from emulators.telegram import DEFAULT_TOKEN, TelegramEmulator
from tests.conftest import ALLOWED_ID, SMSMAN_TOKEN
from tests.flows import buy_number, price_screen
from tests.sim import sqlite
from tests.sim.effects import Crashed, Effects
from tests.sim.loop import Deadlock, VirtualTimeLoop, virtual_loop
from tests.sim.smsman_transport import InProcessTransport
from tests.sim.telegram_session import InProcessSession
from tests.sim.world import EPOCH, World

USA, TELEGRAM = 5, 3


@pytest.fixture
def loop() -> Iterator[VirtualTimeLoop]:
    with virtual_loop() as loop:
        yield loop


def make_world(tmp_path: Path, locales: Path) -> World:
    world = World(tmp_path, locales)
    world.smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))
    return world


@pytest.fixture
def world(tmp_path: Path, locales: Path) -> Iterator[World]:
    world = make_world(tmp_path, locales)
    yield world
    world.close()


def crashes_reported(world: World) -> list[dict[str, Any]]:
    return [e for e in world.loop_errors() if isinstance(e.get("exception"), Crashed)]


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

    loop.run(main())
    assert woke == [("now", 0.0), ("second", 1.0), ("minute", 60.0), ("hour", 3600.0)]
    loop.advance(90)
    assert loop.time() == 3690.0


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


# The whole bot


def purchase_with_a_code(world: World) -> None:
    world.open()
    user = world.telegram.user(ALLOWED_ID)
    card = world.run(buy_number(user))
    assert "+1" in card.text
    [request] = world.smsman.requests
    world.smsman.deliver_sms(request.request_id, "482913")
    world.advance(10)
    [push] = [m for m in user.bot_messages if "Telegram code: 482913" in m.text]
    assert push.message_id != card.message_id
    world.advance(3600)


def test_a_purchase_end_to_end(world: World) -> None:
    purchase_with_a_code(world)
    assert world.now() >= EPOCH + 3610
    world.stop()
    assert world.loop_errors() == []


def test_a_clean_restart_keeps_watching_the_order(world: World) -> None:
    world.open()
    user = world.telegram.user(ALLOWED_ID)
    world.run(buy_number(user))
    world.stop()
    [request] = world.smsman.requests
    world.smsman.deliver_sms(request.request_id, "271828")
    world.advance(60)
    world.open()
    world.run(user.wait_for_text("Telegram code: 271828"))


def test_a_crash_while_stopping(world: World) -> None:
    world.open()
    world.effects.arm(0)
    world.stop()
    assert world.app is None
    assert world.effects.crashed_before is not None
    assert world.open() is not None
    assert crashes_reported(world) == []


def purchase_crash_and_restart(world: World) -> None:
    purchase_with_a_code(world)
    user = world.telegram.user(ALLOWED_ID)
    world.run(price_screen(user))
    world.effects.arm(9)
    world.run(user.tap("Buy for"))
    world.advance(30)
    world.crash()
    world.open()
    world.run(user.send("/start"))
    world.run(user.wait_for_text("Hi,"))
    world.advance(600)


def test_a_lost_task_error_is_reported(world: World) -> None:
    async def fail() -> None:
        raise ValueError("nobody awaits this")

    async def start() -> None:
        asyncio.create_task(fail())  # noqa: RUF006 - dropped on purpose

    world.run(start())
    world.advance(1)
    assert [type(e.get("exception")) for e in world.loop_errors()] == [ValueError]


def test_a_crash_before_the_first_effect_of_a_start(world: World) -> None:
    world.effects.arm(0)
    assert world.open() is None
    assert world.effects.crashed_before == "sqlite connect"
    app = world.open()
    assert app is not None
    assert world.telegram.is_long_polling
    assert crashes_reported(world) == []


def test_the_same_actions_replay_the_same_calls(tmp_path: Path, locales: Path) -> None:
    records = []
    for run in ("first", "second"):
        world = make_world(tmp_path / run, locales)
        try:
            purchase_crash_and_restart(world)
        finally:
            world.close()
        telegram = [(c.method, c.params, c.time, c.ok) for c in world.telegram.calls]
        smsman = [(c.endpoint, c.params, c.time, c.answer) for c in world.smsman.calls]
        records.append((telegram, smsman, world.effects.count))
    assert records[0] == records[1]
    assert records[0][2] > 100


def effects_of_a_tap_on_buy(tmp_path: Path, locales: Path) -> int:
    world = make_world(tmp_path, locales)
    try:
        world.open()
        user = world.telegram.user(ALLOWED_ID)
        world.run(price_screen(user))
        before = world.effects.count
        world.run(user.tap("Buy for"))
        world.run(user.wait_for_text("Waiting for the SMS"))
        world.advance(1)
        return world.effects.count - before
    finally:
        world.close()


@pytest.fixture(scope="module")
def buy_effects(tmp_path_factory: pytest.TempPathFactory, locales: Path) -> int:
    """How many effects a tap on Buy causes, up to the card and a second of polling."""
    return effects_of_a_tap_on_buy(tmp_path_factory.mktemp("count"), locales)


@pytest.mark.parametrize("fraction", [0, 0.2, 0.4, 0.6, 0.8, 0.99])
def test_a_crash_during_a_purchase_and_a_restart(
    world: World, buy_effects: int, fraction: float
) -> None:
    world.open()
    user = world.telegram.user(ALLOWED_ID)
    world.run(price_screen(user))
    world.effects.arm(int(buy_effects * fraction))
    world.run(user.tap("Buy for"))
    world.advance(30)
    assert world.effects.crashed, world.effects.describe()
    dead = world.effects.count
    world.advance(60)
    assert world.effects.count == dead, "a dead process has no effects"

    world.crash()
    world.open()
    world.run(user.send("/start"))
    world.run(user.wait_for_text("Hi,"))
    world.advance(60)
    assert len(world.smsman.requests) <= 1
    assert crashes_reported(world) == []
