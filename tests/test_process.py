"""The real program: `python -m bot` as a process, killed and restarted, and stopped cleanly."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from benchmarks.common import UNPACED, free_port
from bot.owner.stats import collect
from bot.storage.database import Database
from bot.storage.records import Order
from emulators.smsman import SmsManEmulator
from emulators.telegram import DEFAULT_TOKEN, TelegramEmulator
from tests.conftest import ALLOWED_ID, SETTING_NAMES, SMSMAN_TOKEN, WEBHOOK, FakeClock
from tests.flows import buy_number, price_screen

ROOT = Path(__file__).resolve().parent.parent
USA, TELEGRAM = 5, 3
# aiogram alone takes several seconds to import on a busy machine.
START_TIMEOUT = 60.0
PROCESS_MAX_RPS = 50

StartBot = Callable[..., Awaitable[asyncio.subprocess.Process]]
pytestmark = pytest.mark.usefixtures("compiled_catalogs")


@pytest.fixture
def provider_clock() -> FakeClock:
    return FakeClock(0.0)


@pytest.fixture
async def smsman(provider_clock: FakeClock) -> AsyncIterator[SmsManEmulator]:
    """The provider's own clock is the test's, so its requests expire when the test says."""
    async with SmsManEmulator(
        token=SMSMAN_TOKEN, lifetime=600, clock=provider_clock, max_rps=PROCESS_MAX_RPS
    ) as emulator:
        yield emulator
    assert emulator.rate_refusals == 0, "the bot went over SMSMAN_MAX_RPS"


@pytest.fixture
async def start_bot(
    tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator
) -> AsyncIterator[StartBot]:
    env = {key: value for key, value in os.environ.items() if key not in SETTING_NAMES}
    env.update(
        PYTHONPATH=str(ROOT),
        BOT_TOKEN=DEFAULT_TOKEN,
        SMSMAN_TOKEN=SMSMAN_TOKEN,
        TELEGRAM_API_URL=telegram.base_url,
        SMSMAN_API_URL=smsman.control_url,
        DATABASE_PATH=str(tmp_path / "bot.sqlite3"),
        ALLOWED_USER_IDS=str(ALLOWED_ID),
        POLL_INTERVAL_SECONDS="0.1",
        SMSMAN_MAX_RPS=str(PROCESS_MAX_RPS),
        LOG_LEVEL="INFO",
        # The emulator enforces no send limits here: nor does the bot.
        **UNPACED,
    )
    processes: list[asyncio.subprocess.Process] = []
    log = (tmp_path / "bot.log").open("ab")

    async def start(**overrides: str) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=tmp_path,
            env={**env, **overrides},
            stdout=log,
            stderr=log,
        )
        processes.append(process)
        return process

    try:
        yield start
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        log.close()
        output = (tmp_path / "bot.log").read_text()
        assert DEFAULT_TOKEN not in output
        assert SMSMAN_TOKEN not in output


async def polling(telegram: TelegramEmulator, since: int) -> None:
    """Until a getUpdates call newer than `since` calls has arrived, i.e. the bot is up."""
    await telegram.wait_until(
        lambda: any(c.method == "getUpdates" for c in telegram.calls[since:]),
        timeout=START_TIMEOUT,
    )


async def test_code_arriving_while_the_bot_is_killed_reaches_the_chat(
    start_bot: StartBot, smsman: SmsManEmulator, telegram: TelegramEmulator
) -> None:
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))
    user = telegram.user(ALLOWED_ID, language_code="en")
    first = await start_bot()
    await polling(telegram, 0)
    await buy_number(user)

    first.send_signal(signal.SIGKILL)
    assert await first.wait() == -signal.SIGKILL
    smsman.deliver_sms(smsman.requests[0].request_id, "271828")

    calls_before = len(telegram.calls)
    second = await start_bot()
    await polling(telegram, calls_before)
    push = await user.wait_for_text("Telegram code: 271828", timeout=30)
    assert "+1" in push.text

    second.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(second.wait(), 20) == 0, "SIGTERM is a clean exit"
    # Counted once the process is gone, so a late duplicate push could not be missed.
    assert len([m for m in user.bot_messages if "code: 271828" in m.text]) == 1


SOAK_USERS = [ALLOWED_ID + n for n in range(10)]
SOAK_ORDERS = 30
KILL_AFTER = {4, 10, 16, 22, 27}
SOAK_TIMEOUT = 12.0


async def restart(
    start_bot: StartBot, telegram: TelegramEmulator, env: dict[str, str]
) -> asyncio.subprocess.Process:
    since = len(telegram.calls)
    process = await start_bot(**env)
    await polling(telegram, since)
    return process


async def settled(path: Path, deadline: float) -> list[Order]:
    """The orders once none is open any more, read from the file the bot process writes."""
    loop = asyncio.get_running_loop()
    db = await Database.open(path)
    try:
        while True:
            orders = await db.all_orders()
            if all(not o.is_open for o in orders) or loop.time() > deadline:
                return orders
            await asyncio.sleep(0.2)
    finally:
        await db.close()


async def test_soak_with_random_kills(
    tmp_path: Path,
    start_bot: StartBot,
    smsman: SmsManEmulator,
    telegram: TelegramEmulator,
    provider_clock: FakeClock,
) -> None:
    """30 purchases, SMS throughout, SIGKILL at random moments five times: every code reaches
    its own chat once (again only when a kill fell between Telegram's OK and its record), every
    order ends after its deadline, and the books balance."""
    rng = random.Random(20261127)
    for country in (USA, 1):
        smsman.set_stock(country, TELEGRAM, count=100, cost=Decimal("12.50"))
    env = {
        "ALLOWED_USER_IDS": ",".join(map(str, SOAK_USERS)),
        "ORDER_TIMEOUT_SECONDS": str(SOAK_TIMEOUT),
        "POLL_INTERVAL_SECONDS": "0.2",
        "DAILY_SPEND_LIMIT": "",
    }
    users = [telegram.user(uid, first_name=f"U{uid}", language_code="en") for uid in SOAK_USERS]
    sent: dict[int, str] = {}
    owner: dict[int, int] = {}
    deliveries: list[asyncio.Task[None]] = []
    kills: list[float] = []

    async def deliver_later(request_id: int, code: str, delay: float) -> None:
        await asyncio.sleep(delay)
        smsman.deliver_sms(request_id, code)
        sent[request_id] = code

    process = await restart(start_bot, telegram, env)
    processes_started = 1
    for n in range(SOAK_ORDERS):
        user = users[n % len(users)]
        await buy_number(user)
        request = smsman.requests[-1]
        owner[request.request_id] = user.id
        if rng.random() < 0.7:
            code = f"{100000 + n * 7919 % 900000}"
            deliveries.append(
                asyncio.create_task(deliver_later(request.request_id, code, rng.uniform(0, 3)))
            )
        if n in KILL_AFTER:
            # A random moment: codes are arriving, polls and pushes are under way.
            await asyncio.sleep(rng.uniform(0, 1.5))
            kills.append(asyncio.get_running_loop().time())
            process.kill()
            await process.wait()
            await asyncio.sleep(rng.uniform(0, 1))
            process = await restart(start_bot, telegram, env)
            processes_started += 1
    await asyncio.gather(*deliveries)
    assert processes_started == 6

    for request_id, code in sent.items():
        await telegram.user(owner[request_id]).wait_for_text(
            f"code: {code} for", timeout=30, fresh=False
        )
    loop = asyncio.get_running_loop()
    orders = await settled(tmp_path / "bot.sqlite3", loop.time() + 60)
    assert all(not o.is_open for o in orders), [o for o in orders if o.is_open]

    for request_id, code in sent.items():
        for user in users:
            pushes = [m for m in user.bot_messages if f"code: {code} for" in m.text]
            if user.id != owner[request_id]:
                assert pushes == [], (code, user.id)
        # Pushed once, except the promise's one exception: killed between Telegram's OK and
        # the record of it, the bot pushes the code again after the restart.
        sends = [
            c.time
            for c in telegram.calls_of("sendMessage")
            if c.ok and f"code: <code>{code}</code> for" in str(c.params.get("text"))
        ]
        assert sends, code
        for first, again in itertools.pairwise(sends):
            assert any(first < kill < again for kill in kills), (code, sends, kills)

    # Requests the provider still holds (none should remain) expire and are refunded there.
    provider_clock.advance(601)
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        figures = (await collect(db)).total
    finally:
        await db.close()
    assert figures.orders == len(smsman.requests) == SOAK_ORDERS
    assert figures.spend == smsman.spent
    assert figures.with_code == len(sent)


async def test_webhook_mode_reports_healthy_and_sigterm_finishes_the_purchase_under_way(
    start_bot: StartBot, smsman: SmsManEmulator, telegram: TelegramEmulator
) -> None:
    """The service unit's stop: SIGTERM while SMS-man is still selling a number; the process
    answers no new post, finishes that purchase, draws its card and exits 0."""
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))
    webhook, monitor = free_port(), free_port()
    telegram.webhook_proxy = f"http://127.0.0.1:{webhook}"
    process = await start_bot(
        WEBHOOK_URL=WEBHOOK["webhook_url"],
        WEBHOOK_SECRET=WEBHOOK["webhook_secret"],
        WEBHOOK_LISTEN=f"127.0.0.1:{webhook}",
        METRICS_LISTEN=f"127.0.0.1:{monitor}",
        LOG_FORMAT="json",
    )
    await telegram.wait_until(lambda: telegram.webhook_url, timeout=START_TIMEOUT)
    async with httpx.AsyncClient() as http:
        healthz = await http.get(f"http://127.0.0.1:{monitor}/healthz")
    assert healthz.status_code == 200, healthz.text

    user = telegram.user(ALLOWED_ID, language_code="en")
    await price_screen(user)
    smsman.set_latency("get-number", 1.0)
    buy = await user.tap("Buy for")
    await smsman.wait_for_calls("get-number", 1)
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 30) == 0, "SIGTERM is a clean exit"
    await buy.answered()
    card = await user.wait_for_text("Waiting for the SMS", timeout=1)
    assert card.message_id == buy.message.message_id
    assert telegram.calls_of("getUpdates") == []
