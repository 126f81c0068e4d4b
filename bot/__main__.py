"""`python -m bot`: read the settings, then run the bot until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import sys

from pydantic import ValidationError

from bot.config import Settings
from bot.logs import setup_logging

EXIT_CONFIG = 2


def describe(error: ValidationError) -> str:
    """One readable line naming the first bad setting, the way the person will have to type it."""
    first = error.errors()[0]
    name = str(first["loc"][0]).upper() if first["loc"] else "settings"
    if first["type"] == "missing":
        return f"Configuration error: {name} is not set (put it in the environment or in .env)."
    why = str(first["msg"]).removeprefix("Value error, ")
    return f"Configuration error: {name} is invalid: {why}."


async def serve(settings: Settings) -> None:
    # Imported here so a configuration error is reported at once, before aiogram's slow import.
    from bot.factory import Application

    app = await Application.open(settings)
    try:
        await app.run_polling()
    finally:
        await app.close()


def main() -> int:
    try:
        settings = Settings()
    except ValidationError as error:
        print(describe(error), file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(settings.log_level, [settings.bot_token, settings.smsman_token])
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
