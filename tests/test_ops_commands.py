"""`smsman-bot check` and `smsman-bot backup`, run as an owner runs them, against the emulators."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest
from aiogram import Bot

from benchmarks.common import free_port
from bot.__main__ import check
from bot.factory import telegram_session
from bot.ops.backup import BackupError, backup
from bot.ops.check import database_problem
from bot.storage.database import Database
from bot.storage.schema import MIGRATIONS
from emulators.smsman import SmsManEmulator
from emulators.telegram import DEFAULT_TOKEN, TelegramEmulator
from tests.conftest import (
    ALLOWED_ID,
    SETTING_NAMES,
    SMSMAN_TOKEN,
    WEBHOOK,
    RunBot,
    make_settings,
)
from tests.flows import buy_number

ROOT = Path(__file__).resolve().parent.parent
# The console script pip installed, as the service unit runs it.
SMSMAN_BOT = Path(sys.executable).parent / "smsman-bot"
USA, TELEGRAM = 5, 3


async def smsman_bot(tmp_path: Path, *args: str, **env: str) -> tuple[int, list[str], str]:
    """Exit status, stdout lines and stderr of one command."""
    clean = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    process = await asyncio.create_subprocess_exec(
        str(SMSMAN_BOT),
        *args,
        cwd=tmp_path,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode().splitlines(), err.decode()


def emulator_env(
    tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator
) -> dict[str, str]:
    return {
        "BOT_TOKEN": DEFAULT_TOKEN,
        "SMSMAN_TOKEN": SMSMAN_TOKEN,
        "TELEGRAM_API_URL": telegram.base_url,
        "SMSMAN_API_URL": smsman.control_url,
        "DATABASE_PATH": str(tmp_path / "data" / "bot.sqlite3"),
    }


async def test_check_says_ok_in_one_line_when_all_is_well(
    tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator
) -> None:
    smsman.set_balance(Decimal("321.50"))
    status, lines, err = await smsman_bot(
        tmp_path, "check", **emulator_env(tmp_path, smsman, telegram)
    )
    assert status == 0, (lines, err)
    assert lines == [
        f"OK: database {tmp_path / 'data' / 'bot.sqlite3'}, SMS-man balance 321.50 ₽, "
        "Telegram @test_bot, long polling"
    ]
    assert [c.endpoint for c in smsman.calls] == ["get-balance"]
    assert [c.method for c in telegram.calls] == ["getMe"]


async def test_check_prints_one_line_per_problem_and_no_secret(
    tmp_path: Path,
    smsman: SmsManEmulator,
    telegram: TelegramEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = {"bot_token": "123456:not-the-token", "smsman_token": "not-the-sms-token"}
    assert await check(make_settings(tmp_path, smsman, telegram, **wrong)) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["SMS-man: SMSMAN_TOKEN was refused", "Telegram: BOT_TOKEN was refused"]

    # SMS-man unreachable, and a database folder the bot could not create.
    blocked = tmp_path / "file"
    blocked.write_text("")
    unusable = {
        "smsman_api_url": "http://127.0.0.1:9/control",
        "database_path": blocked / "bot.sqlite3",
    }
    assert await check(make_settings(tmp_path, smsman, telegram, **unusable)) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("DATABASE_PATH: cannot create")
    assert lines[1] == "SMS-man: SMS-man get-balance: network error (ConnectError)"


async def test_check_reports_bad_settings_without_calling_anyone(
    tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator
) -> None:
    env = emulator_env(tmp_path, smsman, telegram) | {
        "WEBHOOK_URL": "http://bot.example.com/hook",
        "METRICS_LISTEN": "nowhere",
    }
    status, lines, err = await smsman_bot(tmp_path, "check", **env)
    assert status == 2
    assert lines == []
    problems = err.strip().splitlines()
    assert len(problems) == 2, err
    assert "WEBHOOK_URL is invalid: must be an https:// URL" in problems[0]
    assert "METRICS_LISTEN is invalid" in problems[1]
    assert smsman.calls == []
    assert telegram.calls == []


async def test_backup_of_a_running_bot_is_whole_and_checked(
    tmp_path: Path,
    smsman: SmsManEmulator,
    telegram: TelegramEmulator,
    run_bot: RunBot,
) -> None:
    smsman.set_stock(USA, TELEGRAM, count=5, cost=Decimal("12.50"))
    settings = make_settings(tmp_path, smsman, telegram)
    user = telegram.user(ALLOWED_ID, language_code="en")
    folder = tmp_path / "backups"
    folder.mkdir()
    async with run_bot(settings):
        await buy_number(user)
        env = emulator_env(tmp_path, smsman, telegram)
        env["DATABASE_PATH"] = str(settings.database_path)
        # While the bot runs, and is busy: a code arrives and is pushed during the copy.
        smsman.deliver_sms(smsman.requests[0].request_id, "777000")
        status, lines, err = await smsman_bot(tmp_path, "backup", str(folder), "--keep", "3", **env)
        await user.wait_for_text("code: 777000")
    assert status == 0, err
    (made,) = folder.glob("bot-*.sqlite3")
    assert lines == [f"Backed up {settings.database_path} to {made} (integrity check: ok)"]
    assert not list(folder.glob("*-wal")), "one self-contained file"
    copy = await Database.open(made)
    try:
        (order,) = await copy.all_orders()
    finally:
        await copy.close()
    assert order.request_id == smsman.requests[0].request_id


def test_backup_keeps_the_newest_and_refuses_a_broken_database(tmp_path: Path) -> None:
    source = tmp_path / "bot.sqlite3"
    with closing(sqlite3.connect(source)) as raw:
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("CREATE TABLE t (x TEXT)")
    folder = tmp_path / "backups"
    folder.mkdir()
    day = 1_800_000_000.0
    mine = folder / "bot-before-upgrade.sqlite3"
    mine.write_bytes(source.read_bytes())
    made = [backup(source, folder, keep=2, now=day + n * 86_400) for n in range(3)]
    assert sorted(folder.iterdir()) == sorted([mine, *made[1:]]), "only dated copies are pruned"
    assert made[2].name == "bot-20270117-080000.sqlite3"
    # A folder that does not exist yet, named as one.
    (fresh,) = [backup(source, f"{tmp_path}/new/", now=day)]
    assert fresh == tmp_path / "new" / "bot-20270115-080000.sqlite3"

    for itself in (source, tmp_path / "bot.sqlite3-wal"):
        with pytest.raises(BackupError, match="is the live database itself"):
            backup(source, itself)

    with pytest.raises(BackupError, match="no database at"):
        backup(tmp_path / "missing.sqlite3", folder)
    assert not (tmp_path / "missing.sqlite3").exists(), "never created by a backup"

    # Pages overwritten in the middle of the file: sqlite or the integrity check says so, and
    # nothing that looks like a backup is left behind.
    broken = tmp_path / "broken.sqlite3"
    with sqlite3.connect(broken) as raw:
        raw.execute("CREATE TABLE t (x TEXT)")
        raw.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
        raw.execute("CREATE INDEX t_x ON t(x)")
    data = bytearray(broken.read_bytes())
    data[4096 * 3 : 4096 * 3 + 200] = b"\xff" * 200
    broken.write_bytes(bytes(data))
    target = tmp_path / "copy.sqlite3"
    with pytest.raises(BackupError):
        backup(broken, target)
    assert list(tmp_path.glob("copy.sqlite3*")) == []


def test_check_reads_the_database_without_opening_it(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    with closing(sqlite3.connect(path)) as raw:
        raw.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    assert database_problem(path) is None
    with closing(sqlite3.connect(path)) as raw:
        raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    assert database_problem(path) == (
        f"DATABASE_PATH: {path} is schema v{len(MIGRATIONS) + 1}, newer than this bot"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bot.sqlite3"], "nothing left beside it"
    path.write_text("not a database at all")
    assert database_problem(path) == f"DATABASE_PATH: {path} is not an sqlite database"


async def test_check_in_webhook_mode_reports_what_telegram_could_not_deliver(
    tmp_path: Path,
    smsman: SmsManEmulator,
    telegram: TelegramEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings(tmp_path, smsman, telegram, **WEBHOOK)
    assert await check(settings) == 0
    assert capsys.readouterr().out.endswith(f"webhook {WEBHOOK['webhook_url']}\n")

    # The proxy forwards to a port nothing listens on: Telegram's posts fail, and it says so.
    telegram.webhook_proxy = f"http://127.0.0.1:{free_port()}"
    bot = Bot(DEFAULT_TOKEN, session=telegram_session(settings))
    await bot.set_webhook(WEBHOOK["webhook_url"], secret_token=WEBHOOK["webhook_secret"])
    await bot.session.close()
    await telegram.user(ALLOWED_ID).send("/start")
    await telegram.wait_until(lambda: any(a.error for a in telegram.webhook_attempts))
    assert await check(settings) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("Telegram could not deliver to WEBHOOK_URL at ")
    assert line.endswith("Connection refused")
