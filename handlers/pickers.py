"""Browsing: the country picker, the app picker, cheapest countries, and search by typing."""

from __future__ import annotations

import logging

from aiogram import F, Router, html
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.catalog.cache import Catalog
from bot.catalog.popular import Popularity
from bot.config import Settings
from bot.orders.purchase import Purchases
from bot.person_rates import PersonRates
from bot.storage.database import Database
from bot.telegram.callback_answer import Answer
from handlers import listings
from handlers.access import BuyersOnly
from handlers.listings import Listing
from handlers.purchase import show_price
from handlers.render import show
from handlers.start import menu_keyboard
from keyboards.callbacks import (
    AllAppsCb,
    AppsCb,
    CheapestCb,
    CountriesCb,
    MenuAction,
    MenuCb,
    NoopCb,
    PriceCb,
)
from keyboards.menus import back_to_menu, main_menu

log = logging.getLogger(__name__)


async def present(
    event: Message | CallbackQuery, db: Database, listing: Listing, page: int = 0
) -> None:
    text, markup = listing.page(page)
    shown = await show(event, text, markup)
    await db.set_screen(event.from_user.id, listing.screen, shown.message_id if shown else None)  # type: ignore[union-attr]


async def on_buy(
    query: CallbackQuery, catalog: Catalog, popular: Popularity, db: Database, i18n: I18n
) -> None:
    await present(
        query,
        db,
        await listings.countries(catalog, popular, db, query.from_user.id, i18n.current_locale),
    )


async def on_countries(
    query: CallbackQuery,
    callback_data: CountriesCb,
    catalog: Catalog,
    popular: Popularity,
    db: Database,
    i18n: I18n,
) -> None:
    listing = await listings.countries(
        catalog, popular, db, query.from_user.id, i18n.current_locale
    )
    await present(query, db, listing, callback_data.page)


async def on_apps(
    query: CallbackQuery,
    callback_data: AppsCb,
    catalog: Catalog,
    popular: Popularity,
    db: Database,
    i18n: I18n,
    answer: Answer,
) -> None:
    # Prices may have to come from the provider: stop the spinner first.
    await answer()
    listing = await listings.apps(
        catalog, popular, db, query.from_user.id, i18n.current_locale, callback_data.country
    )
    if listing is None:
        await show(query, _("This country is not offered any more."), back_to_menu())
        return
    await present(query, db, listing, callback_data.page)


async def on_all_apps(
    query: CallbackQuery, callback_data: AllAppsCb, catalog: Catalog, db: Database, i18n: I18n
) -> None:
    listing = await listings.all_apps(catalog, i18n.current_locale)
    await present(query, db, listing, callback_data.page)


async def on_cheapest(
    query: CallbackQuery,
    callback_data: CheapestCb,
    catalog: Catalog,
    db: Database,
    i18n: I18n,
    answer: Answer,
) -> None:
    await answer()
    listing = await listings.cheapest(catalog, i18n.current_locale, callback_data.app)
    if listing is None:
        await show(query, _("This app is not offered any more."), back_to_menu())
        return
    await present(query, db, listing, callback_data.page)


async def on_noop(_query: CallbackQuery) -> None:
    """The page indicator does nothing; the middleware still stops the spinner."""


async def current_listing(
    screen: str, catalog: Catalog, popular: Popularity, db: Database, user_id: int, locale: str
) -> Listing | None:
    kind, _sep, arg = screen.partition(":")
    if kind == "countries":
        return await listings.countries(catalog, popular, db, user_id, locale)
    if kind == "apps" and arg.isdigit():
        return await listings.apps(catalog, popular, db, user_id, locale, int(arg))
    if kind == "allapps":
        return await listings.all_apps(catalog, locale)
    if kind == "cheapest" and arg.isdigit():
        return await listings.cheapest(catalog, locale, int(arg))
    return None


async def on_text(
    message: Message,
    catalog: Catalog,
    popular: Popularity,
    db: Database,
    purchases: Purchases,
    settings: Settings,
    i18n: I18n,
    rates: PersonRates,
) -> None:
    """Typed text searches the picker on screen; one match is chosen at once."""
    user = message.from_user
    if user is not None and rates.search.take(user.id) > 0:
        log.info("search by %s dropped: too fast", user.id)
        if rates.search_notice.take(user.id) == 0:
            await message.answer(
                _("⏳ Typing faster than I can search: wait a moment, then type again.")
            )
        return
    query = (message.text or "").strip()
    record = await db.get_user(user.id) if user else None
    listing = None
    if user and record and record.screen and query:
        listing = await current_listing(
            record.screen, catalog, popular, db, user.id, i18n.current_locale
        )
    if listing is None or user is None:
        markup = (
            await menu_keyboard(db, settings, user.id, i18n.current_locale) if user else main_menu()
        )
        await message.answer(_("Use the menu to buy a number:"), reply_markup=markup)
        return
    found = listing.matches(query[:100])
    if len(found) == 1:
        await choose(
            message, found[0].callback, catalog, popular, db, purchases, i18n.current_locale
        )
        return
    if not found:
        text, markup = listing.page(0)
        nothing = _("Nothing matches “{query}”.").format(query=query[:100])
        shown = await message.answer(f"{html.quote(nothing)}\n\n{text}", reply_markup=markup)
    else:
        text, markup = listing.found(query[:100], found)
        shown = await message.answer(text, reply_markup=markup)
    await db.set_screen(user.id, listing.screen, shown.message_id)


async def choose(
    message: Message,
    callback: CallbackData,
    catalog: Catalog,
    popular: Popularity,
    db: Database,
    purchases: Purchases,
    locale: str,
) -> None:
    """What tapping the single search result would have shown, as a new message."""
    user_id = message.from_user.id  # type: ignore[union-attr]
    if isinstance(callback, PriceCb):
        await show_price(
            message,
            callback.country,
            callback.app,
            catalog=catalog,
            purchases=purchases,
            db=db,
            locale=locale,
        )
        return
    if isinstance(callback, AppsCb):
        listing = await listings.apps(catalog, popular, db, user_id, locale, callback.country)
    elif isinstance(callback, CheapestCb):
        listing = await listings.cheapest(catalog, locale, callback.app)
    else:
        listing = None
    if listing is None:
        await message.answer(_("Use the menu to buy a number:"), reply_markup=back_to_menu())
        return
    await present(message, db, listing)


async def has_text(message: Message) -> bool:
    """`F.text`, awaited: aiogram runs magic filters and plain functions in a worker thread."""
    return bool(message.text)


def build_router() -> Router:
    """The taps of browsing: its callback prefixes are its own, so it can come first."""
    router = Router(name="pickers")
    router.callback_query.middleware(BuyersOnly())
    router.callback_query.register(on_buy, MenuCb.filter(F.action == MenuAction.BUY))
    router.callback_query.register(on_countries, CountriesCb.filter())
    router.callback_query.register(on_apps, AppsCb.filter())
    router.callback_query.register(on_all_apps, AllAppsCb.filter())
    router.callback_query.register(on_cheapest, CheapestCb.filter())
    router.callback_query.register(on_noop, NoopCb.filter())
    return router


def build_search_router() -> Router:
    """Typed text: it takes any text, so it comes after every command."""
    router = Router(name="search")
    router.message.middleware(BuyersOnly())
    router.message.register(on_text, has_text)
    return router
