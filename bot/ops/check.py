"""`smsman-bot check`: are the settings, the database, SMS-man and Telegram all usable?"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError

from bot.config import Settings
from bot.money import format_money
from bot.smsman.client import SmsManClient
from bot.smsman.errors import SmsManError, WrongToken
from bot.smsman.ratelimit import RateLimiter
from bot.storage.schema import MIGRATIONS

CHECK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
SQLITE_MAGIC = b"SQLite format 3\x00"
# A webhook delivery error older than this is history, not a problem now.
RECENT_ERROR = 3600.0


def database_problem(path: Path) -> str | None:
    """Read from the file's header, never opened with sqlite: a check run as another user must
    not leave -wal or -shm files the bot's user cannot write."""
    if not path.exists():
        folder = next((p for p in path.parents if p.exists()), Path("."))
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"DATABASE_PATH: cannot create {path} ({folder} is not writable)"
        return None
    try:
        with path.open("rb") as database:
            header = database.read(100)
    except OSError as exc:
        return f"DATABASE_PATH: {path} cannot be read: {exc.strerror}"
    if header and not header.startswith(SQLITE_MAGIC):
        return f"DATABASE_PATH: {path} is not an sqlite database"
    # The schema version the bot keeps in PRAGMA user_version, at offset 60 of the header.
    version = int.from_bytes(header[60:64], "big")
    if version > len(MIGRATIONS):
        return f"DATABASE_PATH: {path} is schema v{version}, newer than this bot"
    if not os.access(path, os.R_OK | os.W_OK):
        return f"DATABASE_PATH: {path} is not writable"
    return None


async def smsman_problems(settings: Settings) -> tuple[list[str], str]:
    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT) as http:
        client = SmsManClient(
            http,
            settings.smsman_base_url,
            settings.smsman_token,
            RateLimiter(settings.smsman_max_rps),
            attempts=1,
        )
        try:
            balance = await client.get_balance()
        except WrongToken:
            return ["SMS-man: SMSMAN_TOKEN was refused"], ""
        except SmsManError as exc:
            return [f"SMS-man: {exc.message}"], ""
    return [], f"SMS-man balance {format_money(balance, settings.currency)}"


async def telegram_problems(settings: Settings, bot: Bot) -> tuple[list[str], str]:
    try:
        me = await bot.get_me()
    except TelegramUnauthorizedError:
        return ["Telegram: BOT_TOKEN was refused"], ""
    except TelegramAPIError as exc:
        return [f"Telegram: {exc.message}"], ""
    problems: list[str] = []
    if settings.webhook_url is not None:
        try:
            info = await bot.get_webhook_info()
        except TelegramAPIError as exc:
            problems.append(f"Telegram: getWebhookInfo failed: {exc.message}")
        else:
            when = info.last_error_date
            if when is not None and time.time() - when.timestamp() < RECENT_ERROR:
                problems.append(
                    f"Telegram could not deliver to WEBHOOK_URL at {when:%H:%M:%S} UTC: "
                    f"{info.last_error_message}"
                )
    return problems, f"Telegram @{me.username}"


async def check(settings: Settings, bot: Bot) -> tuple[list[str], list[str]]:
    """The problems found, one line each, and what was fine (for a one-line all-clear)."""
    database = database_problem(settings.database_path)
    results = [
        ([database] if database else [], f"database {settings.database_path}"),
        await smsman_problems(settings),
        await telegram_problems(settings, bot),
    ]
    problems = [line for found, _fine in results for line in found]
    fine = [fine for found, fine in results if fine and not found]
    fine.append(f"webhook {settings.webhook_url}" if settings.webhook_url else "long polling")
    return problems, fine
