"""The real program: `python -m bot` as a process, killed and restarted, and stopped cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, LOCALES_DIR
from bot.smsman.emulator import SmsManEmulator
from tests.conftest import ALLOWED_ID, SETTING_NAMES, SMSMAN_TOKEN
from tests.emulators.telegram import DEFAULT_TOKEN, TelegramEmulator
from tests.flows import buy_number

ROOT = Path(__file__).resolve().parent.parent
USA, TELEGRAM = 5, 3
# aiogram alone takes several seconds to import on a busy machine.
START_TIMEOUT = 60.0

StartBot = Callable[[], Awaitable[asyncio.subprocess.Process]]


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogs() -> None:
    """The process reads locales/ itself; `make` compiles it, this covers a bare pytest run."""
    for po_path in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as source:
            catalog = read_po(source, locale=po_path.parent.parent.name)
        with mo_path.open("wb") as target:
            write_mo(target, catalog)


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
        SMSMAN_MAX_RPS="50",
        LOG_LEVEL="INFO",
    )
    processes: list[asyncio.subprocess.Process] = []
    log = (tmp_path / "bot.log").open("ab")

    async def start() -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=tmp_path, env=env, stdout=log, stderr=log
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
    seen = len([c for c in smsman.calls if c.endpoint == "get-sms"])
    await smsman.wait_for_calls("get-sms", seen + 3)
    assert len([m for m in user.bot_messages if "code: 271828" in m.text]) == 1

    second.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(second.wait(), 20) == 0, "SIGTERM is a clean exit"
