"""`smsman-bot` (or `python -m bot`): run the bot, check its settings and services, back it up."""

from __future__ import annotations

import argparse
import asyncio
import sys

from pydantic import SecretStr, ValidationError

from bot.config import Settings
from bot.logs import redact, setup_logging

EXIT_CONFIG = 2
EXIT_PROBLEMS = 1


def describe(error: ValidationError) -> list[str]:
    """One readable line per bad setting, named the way the person will have to type it."""
    lines = []
    for problem in error.errors():
        name = str(problem["loc"][0]).upper() if problem["loc"] else "settings"
        if problem["type"] == "missing":
            lines.append(
                f"Configuration error: {name} is not set (put it in the environment or in .env)."
            )
        else:
            why = str(problem["msg"]).removeprefix("Value error, ")
            lines.append(f"Configuration error: {name} is invalid: {why}.")
    return lines


def secrets(settings: Settings) -> list[SecretStr]:
    found = [settings.bot_token, settings.smsman_token]
    return found + ([settings.webhook_secret] if settings.webhook_secret else [])


async def serve(settings: Settings) -> None:
    # Imported here so a configuration error is reported at once, before aiogram's slow import.
    from bot.factory import Application

    app = await Application.open(settings)
    try:
        await app.run()
    finally:
        await app.close()


async def check(settings: Settings) -> int:
    from aiogram import Bot

    from bot.factory import telegram_session
    from bot.ops.check import check as run_checks

    bot = Bot(settings.bot_token.get_secret_value(), session=telegram_session(settings))
    try:
        problems, fine = await run_checks(settings, bot)
    finally:
        await bot.session.close()
    for line in problems:
        print(redact(line, secrets(settings)))
    if problems:
        return EXIT_PROBLEMS
    print("OK: " + ", ".join(fine))
    return 0


def backup(settings: Settings, path: str, keep: int | None) -> int:
    from bot.ops.backup import BackupError
    from bot.ops.backup import backup as copy

    try:
        made = copy(settings.database_path, path, keep=keep)
    except (BackupError, OSError) as exc:
        print(f"Backup failed: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"Backed up {settings.database_path} to {made} (integrity check: ok)")
    return 0


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="smsman-bot", description="The SMS-man Telegram bot; settings from the env and .env."
    )
    commands = parse.add_subparsers(dest="command", metavar="{run,check,backup}")
    commands.add_parser("run", help="run the bot until SIGTERM or SIGINT (the default)")
    commands.add_parser(
        "check",
        help="check the settings, the database, SMS-man and Telegram; exit 0 if all is well",
    )
    copy = commands.add_parser(
        "backup", help="copy the database while the bot runs, then check the copy"
    )
    copy.add_argument(
        "path", help="a file, or a folder (existing, or ending in /) for a dated bot-*.sqlite3"
    )
    copy.add_argument("--keep", type=positive, help="in a folder, keep only the newest N backups")
    return parse


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        for line in describe(error):
            print(line, file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(settings.log_level, secrets(settings), settings.log_format)
    if args.command == "check":
        return asyncio.run(check(settings))
    if args.command == "backup":
        return backup(settings, args.path, args.keep)
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
