"""Every callback factory stays within Telegram's 64 bytes with the largest ids."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData

from keyboards.callbacks import (
    AllAppsCb,
    AppsCb,
    BuyCb,
    CheapestCb,
    CountriesCb,
    Language,
    LanguageCb,
    MenuAction,
    MenuCb,
    NoopCb,
    OrderAction,
    OrderCb,
    PriceCb,
)

BIG = 2**63 - 1


def test_largest_values_fit_in_64_bytes() -> None:
    samples: list[CallbackData] = [
        MenuCb(action=max(MenuAction)),
        LanguageCb(language=Language.ZH),
        CountriesCb(page=BIG),
        AppsCb(country=BIG, page=BIG),
        AllAppsCb(page=BIG),
        CheapestCb(app=BIG, page=BIG),
        PriceCb(country=BIG, app=BIG),
        BuyCb(quote=BIG),
        OrderCb(order=BIG, action=max(OrderAction)),
        OrderCb(order=-BIG, action=max(OrderAction)),
        NoopCb(),
    ]
    for sample in samples:
        packed = sample.pack()
        assert len(packed.encode()) <= 64, packed
        assert type(sample).unpack(packed) == sample


def test_prefixes_are_distinct() -> None:
    samples: list[CallbackData] = [
        MenuCb(action=MenuAction.MAIN),
        LanguageCb(language=Language.EN),
        CountriesCb(page=0),
        AppsCb(country=0, page=0),
        AllAppsCb(page=0),
        CheapestCb(app=0, page=0),
        PriceCb(country=0, app=0),
        BuyCb(quote=0),
        OrderCb(order=0, action=OrderAction.SHOW),
        NoopCb(),
    ]
    prefixes = [sample.pack().split(":")[0] for sample in samples]
    assert len(prefixes) == len(set(prefixes))
