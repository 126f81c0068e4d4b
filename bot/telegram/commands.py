"""The command menu Telegram shows next to the input field, in every language we speak."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand
from aiogram.utils.i18n import I18n


def commands(i18n: I18n, locale: str) -> list[BotCommand]:
    with i18n.use_locale(locale):
        return [
            BotCommand(command="start", description=i18n.gettext("Main menu")),
            BotCommand(command="help", description=i18n.gettext("How the bot works")),
        ]


async def set_commands(bot: Bot, i18n: I18n) -> None:
    await bot.set_my_commands(commands(i18n, i18n.default_locale))
    for locale in i18n.available_locales:
        await bot.set_my_commands(commands(i18n, locale), language_code=locale)
