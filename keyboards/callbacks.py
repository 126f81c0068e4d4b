"""CallbackData factories: short prefixes and int/enum fields keep every button under 64 bytes."""

from __future__ import annotations

from enum import IntEnum, StrEnum

from aiogram.filters.callback_data import CallbackData


class MenuAction(IntEnum):
    MAIN = 0
    BUY = 1
    MY_NUMBERS = 2
    LANGUAGE = 3
    HELP = 4


class Language(StrEnum):
    EN = "en"
    RU = "ru"
    ZH = "zh"


class MenuCb(CallbackData, prefix="m"):
    action: MenuAction


class LanguageCb(CallbackData, prefix="l"):
    language: Language
