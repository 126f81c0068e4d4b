"""Callback data: within Telegram's 64 bytes, and what unpacks is what our buttons write."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from hypothesis import given, settings
from hypothesis import strategies as st

from keyboards.callbacks import (
    INT_LIMIT,
    PAGE_LIMIT,
    AdminHoldCb,
    AdminOrderCb,
    AgainCb,
    AllAppsCb,
    AppsCb,
    BuyCb,
    CheapestCb,
    CountriesCb,
    HistoryCb,
    HoldAction,
    Language,
    LanguageCb,
    MenuAction,
    MenuCb,
    NoopCb,
    OrderAction,
    OrderCb,
    PriceCb,
    SaveAction,
    SaveCb,
    StatsPageCb,
    TopUpCb,
    TroubledPageCb,
    WalletAction,
    WalletCb,
)

BIG = INT_LIMIT - 1
LAST_PAGE = PAGE_LIMIT - 1


def test_largest_values_fit_in_64_bytes() -> None:
    samples: list[CallbackData] = [
        MenuCb(action=max(MenuAction)),
        LanguageCb(language=Language.ZH),
        CountriesCb(page=LAST_PAGE),
        AppsCb(country=BIG, page=LAST_PAGE),
        AllAppsCb(page=LAST_PAGE),
        CheapestCb(app=BIG, page=LAST_PAGE),
        PriceCb(country=BIG, app=BIG),
        BuyCb(quote=BIG),
        OrderCb(order=BIG, action=max(OrderAction)),
        StatsPageCb(page=LAST_PAGE),
        TroubledPageCb(page=LAST_PAGE),
        AdminHoldCb(order=BIG, action=max(HoldAction)),
        HistoryCb(page=LAST_PAGE),
        SaveCb(country=BIG, app=BIG, action=max(SaveAction)),
        WalletCb(action=max(WalletAction)),
        TopUpCb(stars=BIG),
        AgainCb(order=BIG),
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
        AppsCb(country=1, page=0),
        AllAppsCb(page=0),
        CheapestCb(app=1, page=0),
        PriceCb(country=1, app=1),
        BuyCb(quote=1),
        OrderCb(order=1, action=OrderAction.SHOW),
        HistoryCb(page=0),
        AdminOrderCb(order=1),
        StatsPageCb(page=0),
        TroubledPageCb(page=0),
        AdminHoldCb(order=1, action=HoldAction.KEEP),
        NoopCb(),
    ]
    prefixes = [sample.pack().split(":")[0] for sample in samples]
    assert len(prefixes) == len(set(prefixes))


# Every factory, including the ones only the owner's screens use.
FACTORIES: list[type[CallbackData]] = [
    MenuCb,
    LanguageCb,
    CountriesCb,
    AppsCb,
    AllAppsCb,
    CheapestCb,
    PriceCb,
    BuyCb,
    OrderCb,
    HistoryCb,
    AdminOrderCb,
    StatsPageCb,
    TroubledPageCb,
    AdminHoldCb,
    NoopCb,
]
SQLITE_MAX = 2**63 - 1

field_text = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.integers(min_value=0, max_value=2**70).map(lambda n: f"{n:_}"),
    st.sampled_from(["", " 5", "+5", "05", "5.0", "-0", "1e3", "٣", "５", "en", "zh"]),
)


FORGED = settings(max_examples=300, derandomize=True, deadline=None)
forged = st.builds(
    lambda factory, fields: (factory, ":".join([factory.__prefix__, *fields])),
    st.sampled_from(FACTORIES),
    st.lists(field_text, max_size=3),
)


def unpacked(factory: type[CallbackData], data: str) -> CallbackData | None:
    try:
        return factory.unpack(data)
    except (TypeError, ValueError):
        return None  # A stale button: the fallback handler answers it.


@FORGED
@given(forged)
def test_every_int_that_unpacks_fits_sqlite(case: tuple[type[CallbackData], str]) -> None:
    """b:9999999999999999999999999 once reached sqlite and raised OverflowError there."""
    parsed = unpacked(*case)
    values = parsed.model_dump().values() if parsed is not None else []
    assert all(-SQLITE_MAX - 1 <= v <= SQLITE_MAX for v in values if isinstance(v, int)), case


@FORGED
@given(forged)
def test_what_unpacks_is_a_button_we_could_have_sent(case: tuple[type[CallbackData], str]) -> None:
    """Exactly what `pack` writes, with ids from 1 and pages (and actions) from 0."""
    parsed = unpacked(*case)
    if parsed is None:
        return
    assert parsed.pack() == case[1]
    for name, value in parsed.model_dump().items():
        if isinstance(value, int):
            assert value >= (0 if name in ("page", "action") else 1), (case, name)
