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


class OrderAction(IntEnum):
    SHOW = 0
    CANCEL = 1
    RETRY = 2
    ANOTHER = 3
    DONE = 4
    USED = 5


class CountriesCb(CallbackData, prefix="c"):
    page: int


class AppsCb(CallbackData, prefix="a"):
    country: int
    page: int


class AllAppsCb(CallbackData, prefix="g"):
    page: int


class CheapestCb(CallbackData, prefix="x"):
    app: int
    page: int


class PriceCb(CallbackData, prefix="p"):
    country: int
    app: int


class BuyCb(CallbackData, prefix="b"):
    quote: int


class OrderCb(CallbackData, prefix="o"):
    order: int
    action: OrderAction


class HistoryCb(CallbackData, prefix="h"):
    page: int


class AdminOrderCb(CallbackData, prefix="z"):
    order: int


class NoopCb(CallbackData, prefix="n"):
    """The page indicator: a button that only needs its spinner stopped."""
