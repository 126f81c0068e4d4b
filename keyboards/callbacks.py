"""CallbackData factories: short prefixes and int/enum fields keep every button under 64 bytes."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import BeforeValidator, Field

# Callback data comes back from the client as text anyone can forge. Ints are read only in the
# form our own buttons write them (plain digits), and only within bounds: ids from 1 and below
# 2^63 (sqlite's INTEGER), pages from 0 and below a million (a page number times its size
# must stay an INTEGER too). Anything else fails to unpack, so the tap reaches no handler and
# is answered as a stale button.
INT_LIMIT = 2**63
PAGE_LIMIT = 10**6


def _plain_digits(value: object) -> object:
    if isinstance(value, str) and not (
        value.isascii() and value.isdigit() and (value == "0" or not value.startswith("0"))
    ):
        raise ValueError("not written by one of our buttons")
    return value


Id = Annotated[int, BeforeValidator(_plain_digits), Field(ge=1, lt=INT_LIMIT)]
PageNumber = Annotated[int, BeforeValidator(_plain_digits), Field(ge=0, lt=PAGE_LIMIT)]


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
    action: Annotated[MenuAction, BeforeValidator(_plain_digits)]


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
    page: PageNumber


class AppsCb(CallbackData, prefix="a"):
    country: Id
    page: PageNumber


class AllAppsCb(CallbackData, prefix="g"):
    page: PageNumber


class CheapestCb(CallbackData, prefix="x"):
    app: Id
    page: PageNumber


class PriceCb(CallbackData, prefix="p"):
    country: Id
    app: Id


class SaveAction(IntEnum):
    REMOVE = 0
    SAVE = 1


class SaveCb(CallbackData, prefix="s"):
    """Keep a country and app for the main menu, or stop keeping it."""

    country: Id
    app: Id
    action: Annotated[SaveAction, BeforeValidator(_plain_digits)]


class WalletAction(IntEnum):
    SHOW = 0
    TOP_UP = 1


class WalletCb(CallbackData, prefix="w"):
    action: Annotated[WalletAction, BeforeValidator(_plain_digits)]


class TopUpCb(CallbackData, prefix="t"):
    """Top up by this many Stars: checked against TOPUP_STARS, never trusted."""

    stars: Id


class AgainCb(CallbackData, prefix="r"):
    """Buy again what an order bought: its country and app at today's price."""

    order: Id


class BuyCb(CallbackData, prefix="b"):
    quote: Id


class OrderCb(CallbackData, prefix="o"):
    order: Id
    action: Annotated[OrderAction, BeforeValidator(_plain_digits)]


class HistoryCb(CallbackData, prefix="h"):
    page: PageNumber


class AdminOrderCb(CallbackData, prefix="z"):
    order: Id


class StatsPageCb(CallbackData, prefix="k"):
    """A page of /stats: the people, most spent first."""

    page: PageNumber


class TroubledPageCb(CallbackData, prefix="j"):
    """A page of /orders: the orders that need the owner's eye, newest first."""

    page: PageNumber


class HoldAction(IntEnum):
    KEEP = 0
    REFUND = 1


class AdminHoldCb(CallbackData, prefix="y"):
    """The owner's decision on a wallet charge SMS-man left unknown."""

    order: Id
    action: Annotated[HoldAction, BeforeValidator(_plain_digits)]


class NoopCb(CallbackData, prefix="n"):
    """The page indicator: a button that only needs its spinner stopped."""
