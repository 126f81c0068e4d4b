"""The price screen and the Buy tap: a quote, then at most one purchase for it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from aiogram import F, Router, html
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from bot.catalog.cache import Catalog
from bot.catalog.countries import country_name, flag
from bot.clock import Clock
from bot.money import format_money
from bot.orders.cards import card_of, countdown_hours, held_until, may_be_charged
from bot.orders.lifecycle import Tell
from bot.orders.limits import Limit, Refusal
from bot.orders.purchase import Purchases
from bot.orders.service import OrderService, Result
from bot.storage.database import Database
from bot.storage.records import Quote, SavedPair
from bot.telegram.callback_answer import Answer
from handlers.access import BuyersOnly
from handlers.listings import country_label
from handlers.render import show, tapped_in_private
from handlers.texts import no_access_text, unavailable_text
from keyboards.callbacks import (
    AgainCb,
    AppsCb,
    BuyCb,
    CheapestCb,
    MenuAction,
    MenuCb,
    OrderAction,
    OrderCb,
    PriceCb,
    SaveAction,
    SaveCb,
    WalletAction,
    WalletCb,
)
from keyboards.menus import back_to_menu
from keyboards.orders import card_keyboard
from keyboards.pickers import Item, buttons

# Shortcuts on the main menu a person may keep.
MAX_SAVED = 10


@dataclass(frozen=True, slots=True)
class Offer:
    """A quote as the person sees it: what they pay, and their wallet's balance in wallet mode."""

    quote: Quote
    pays: Decimal
    balance: Decimal | None = None

    @property
    def affordable(self) -> bool:
        return self.balance is None or self.balance >= self.pays


async def offer(quote: Quote, catalog: Catalog, purchases: Purchases) -> Offer:
    pays = catalog.person_price(quote.price)
    balance = await purchases.balance(quote.user_id) if purchases.wallet else None
    return Offer(quote, pays, balance)


def price_text(shown: Offer, count: int | None, locale: str) -> str:
    quote = shown.quote
    country = country_name(quote.country_iso, quote.country_title, locale)
    lines = [
        f"{flag(quote.country_iso)} <b>{html.quote(country)}</b> · "
        f"<b>{html.quote(quote.app_title)}</b>",
        _("💰 Price: <b>{price}</b>").format(price=format_money(shown.pays, quote.currency)),
    ]
    if count is not None:
        lines.append(
            ngettext("📦 {count} number available", "📦 {count} numbers available", count).format(
                count=count
            )
        )
    if shown.balance is not None:
        lines.append(
            _("💳 Your balance: {balance}").format(
                balance=format_money(shown.balance, quote.currency)
            )
        )
    return "\n".join(lines)


async def is_saved(db: Database, user_id: int, country_id: int, app_id: int) -> bool:
    pairs = await db.saved_pairs(user_id)
    return any((p.country_id, p.application_id) == (country_id, app_id) for p in pairs)


def remove_item(country_id: int, app_id: int) -> Item:
    return Item(
        _("✖️ Remove from saved"),
        SaveCb(country=country_id, app=app_id, action=SaveAction.REMOVE),
    )


def price_keyboard(shown: Offer, *, saved: bool) -> InlineKeyboardMarkup:
    quote = shown.quote
    keep = (
        remove_item(quote.country_id, quote.application_id)
        if saved
        else Item(
            _("⭐ Save"),
            SaveCb(country=quote.country_id, app=quote.application_id, action=SaveAction.SAVE),
        )
    )
    buy = (
        Item(
            _("✅ Buy for {price}").format(price=format_money(shown.pays, quote.currency)),
            BuyCb(quote=quote.id),
        )
        if shown.affordable
        else Item(_("💳 Top up"), WalletCb(action=WalletAction.TOP_UP))
    )
    actions = [
        buy,
        Item(
            _("🌍 Other countries for {app}").format(app=quote.app_title),
            CheapestCb(app=quote.application_id, page=0),
        ),
        keep,
    ]
    return buttons(actions, back=AppsCb(country=quote.country_id, page=0))


async def show_price(
    event: Message | CallbackQuery,
    country_id: int,
    app_id: int,
    *,
    catalog: Catalog,
    purchases: Purchases,
    db: Database,
    locale: str,
    below: bool = False,
) -> None:
    """Price, stock and a Buy button bound to a fresh quote of exactly this price. A saved
    pair can be removed from here whatever became of its offer. `below`: as a new message."""
    if event.from_user is None:
        return
    user_id = event.from_user.id
    saved = await is_saved(db, user_id, country_id, app_id)
    remove = [remove_item(country_id, app_id)] if saved else []
    country = (await catalog.countries()).get(country_id)
    app = (await catalog.applications()).get(app_id)
    if country is None or app is None:
        gone = _("This offer is not available any more.")
        await show(event, gone, buttons(remove, back=MenuCb(action=MenuAction.MAIN)), below=below)
        return
    price = (await catalog.prices(country_id)).get(app_id)
    if price is None or price.count <= 0:
        text = _("😔 No numbers for {app} in {country} right now.").format(
            app=html.quote(app.title), country=html.quote(country_label(country, locale))
        )
        suggest = Item(
            _("🌍 Cheapest countries for {app}").format(app=app.title),
            CheapestCb(app=app_id, page=0),
        )
        markup = buttons([suggest, *remove], back=AppsCb(country=country_id, page=0))
        await show(event, text, markup, below=below)
        return
    quote = await purchases.quote(user_id, country, app, price)
    shown = await offer(quote, catalog, purchases)
    text, markup = price_text(shown, price.count, locale), price_keyboard(shown, saved=saved)
    await show(event, text, markup, below=below)


async def on_price(
    query: CallbackQuery,
    callback_data: PriceCb,
    catalog: Catalog,
    purchases: Purchases,
    db: Database,
    i18n: I18n,
    answer: Answer,
) -> None:
    await answer()
    await show_price(
        query,
        callback_data.country,
        callback_data.app,
        catalog=catalog,
        purchases=purchases,
        db=db,
        locale=i18n.current_locale,
    )


async def on_again(
    query: CallbackQuery,
    callback_data: AgainCb,
    orders: OrderService,
    catalog: Catalog,
    purchases: Purchases,
    db: Database,
    i18n: I18n,
    answer: Answer,
) -> None:
    """Buy again from a finished order's card: its price screen today, under the card, which
    keeps its number and codes."""
    order = await orders.get(query.from_user.id, callback_data.order)
    if order is None:
        await answer(_("This order is not yours or no longer exists."), show_alert=True)
        return
    await answer()
    await show_price(
        query,
        order.country_id,
        order.application_id,
        catalog=catalog,
        purchases=purchases,
        db=db,
        locale=i18n.current_locale,
        below=True,
    )


async def on_save(
    query: CallbackQuery,
    callback_data: SaveCb,
    catalog: Catalog,
    purchases: Purchases,
    db: Database,
    clock: Clock,
    i18n: I18n,
    answer: Answer,
) -> None:
    """Keep the pair on the price screen for the main menu, or let it go; the screen redraws."""
    user_id = query.from_user.id
    if callback_data.action is SaveAction.REMOVE:
        await db.remove_pair(user_id, callback_data.country, callback_data.app)
        said = _("Removed from the main menu.")
    else:
        country = (await catalog.countries()).get(callback_data.country)
        app = (await catalog.applications()).get(callback_data.app)
        prices = await catalog.prices(country.id) if country and app else {}
        price = prices.get(callback_data.app)
        if country is None or app is None or price is None or price.count <= 0:
            await answer(_("This offer is not available any more."), show_alert=True)
            return
        pair = SavedPair(country.id, app.id, country.title, country.iso, app.title)
        if not await db.save_pair(user_id, pair, clock(), MAX_SAVED):
            await answer(
                ngettext(
                    "You can keep {count} pair. Remove it first (on its price screen).",
                    "You can keep {count} pairs. Remove one first (on its price screen).",
                    MAX_SAVED,
                ).format(count=MAX_SAVED),
                show_alert=True,
            )
            return
        said = _("⭐ Saved: it is on the main menu now.")
    # Redrawn before the answer: the next tap then finds the screen as the answer says.
    await show_price(
        query,
        callback_data.country,
        callback_data.app,
        catalog=catalog,
        purchases=purchases,
        db=db,
        locale=i18n.current_locale,
    )
    await answer(said)


def refusal_text(refusal: Refusal, now: float) -> str:
    """Which limit stopped the purchase (or the give-back), and when it frees up."""
    currency = refusal.currency
    if refusal.limit is Limit.CANCELS:
        count = int(refusal.allowed)
        return ngettext(
            "⛔ You have given back {count} number in the last hour, the most allowed: each one "
            "costs this bot's standing with SMS-man. You can cancel again at {until} ({left}). "
            "This number is released at its deadline anyway, and the money returned if no code "
            "came.",
            "⛔ You have given back {count} numbers in the last hour, the most allowed: each one "
            "costs this bot's standing with SMS-man. You can cancel again at {until} ({left}). "
            "This number is released at its deadline anyway, and the money returned if no code "
            "came.",
            count,
        ).format(count=count, **held_until(refusal.resets_at or now, now))
    if refusal.limit is Limit.MAX_PRICE:
        return _(
            "⛔ This number costs more than the most one purchase may cost here ({limit})."
        ).format(limit=format_money(refusal.allowed, currency))
    if refusal.limit is Limit.ACTIVE_ORDERS:
        count = int(refusal.allowed)
        return ngettext(
            "⛔ You may have {count} active number at a time. Finish or cancel it to buy another.",
            "⛔ You may have {count} active numbers at a time. "
            "Finish or cancel one to buy another.",
            count,
        ).format(count=count)
    left = countdown_hours(max(0.0, (refusal.resets_at or now) - now))
    return _(
        "⛔ This purchase would take today's spending past your daily limit of {limit}. "
        "The limit resets at 00:00 UTC, in {time}."
    ).format(limit=format_money(refusal.allowed, currency), time=left)


async def render_result(
    query: CallbackQuery,
    result: Result,
    *,
    answer: Answer,
    db: Database,
    catalog: Catalog,
    purchases: Purchases,
    clock: Clock,
    locale: str,
) -> None:
    """One screen per outcome of a purchase, shown in place of the price screen."""
    tell, order = result.tell, result.order
    if tell is Tell.IN_PROGRESS:
        await answer(_("⏳ Already buying this number…"))
    elif tell is Tell.NO_NUMBERS and order is not None and result.quote is not None:
        warning = _(
            "⚠️ The price went up from {old} to {new}, so nothing was bought. Buy at the new price?"
        ).format(
            old=format_money(order.charged, order.currency),
            new=format_money(catalog.person_price(result.quote.price), result.quote.currency),
        )
        shown = await offer(result.quote, catalog, purchases)
        saved = await is_saved(db, order.user_id, order.country_id, order.application_id)
        markup = price_keyboard(shown, saved=saved)
        await show(query, f"{warning}\n\n{price_text(shown, None, locale)}", markup)
    elif tell is Tell.NO_NUMBERS and order is not None:
        text = _("😔 The last {app} numbers in {country} are gone.").format(
            app=html.quote(order.app_title),
            country=html.quote(country_name(order.country_iso, order.country_title, locale)),
        )
        known = await catalog.countries()
        items = [
            Item(
                f"{country_label(known[p.country_id], locale)} · "
                f"{format_money(catalog.person_price(p.cost), order.currency)}",
                PriceCb(country=p.country_id, app=order.application_id),
            )
            for p in result.alternatives
            if p.country_id in known
        ]
        if items:
            text += "\n" + _("These countries have it in stock, cheapest first:")
        await show(query, text, buttons(items, back=AppsCb(country=order.country_id, page=0)))
    elif tell in (Tell.UNAVAILABLE, Tell.PAUSED):
        await show(query, unavailable_text(), back_to_menu())
    elif tell is Tell.LIMIT and result.refusal is not None:
        await show(query, refusal_text(result.refusal, clock()), back_to_menu())
    elif tell in (Tell.NOT_BOUGHT, Tell.MAY_BE_CHARGED) and order is not None:
        text = (
            may_be_charged(order)
            if tell is Tell.MAY_BE_CHARGED
            else _(
                "📡 SMS-man could not complete the purchase, so you got no number. "
                "Please try again."
            )
        )
        await show(query, text, card_keyboard(order))
    elif tell is Tell.TOP_UP and result.quote is not None:
        shown = await offer(result.quote, catalog, purchases)
        text = _("💳 Not enough in your wallet for this number.") + "\n\n"
        saved = await is_saved(
            db, shown.quote.user_id, shown.quote.country_id, shown.quote.application_id
        )
        await show(
            query, text + price_text(shown, None, locale), price_keyboard(shown, saved=saved)
        )
    elif tell is Tell.FORBIDDEN:
        await show(query, no_access_text(query.from_user.id), back_to_menu())
    elif order is not None:
        await show(query, await card_of(db, order, clock(), locale), card_keyboard(order))
    else:
        await answer(_("This offer is no longer valid."), show_alert=True)


async def on_purchase(
    query: CallbackQuery,
    callback_data: BuyCb | OrderCb,
    purchases: Purchases,
    db: Database,
    catalog: Catalog,
    clock: Clock,
    i18n: I18n,
    answer: Answer,
) -> None:
    """Buy on a quote, or once more on the terms of a failed order (Try again)."""
    user_id = query.from_user.id
    # The card is drawn on the tapped message, and redrawn there later: only in the person's
    # private chat (elsewhere it is sent there fresh, and not redrawn).
    tapped = tapped_in_private(query)
    message_id = tapped.message_id if tapped else None

    async def buying() -> None:
        # The provider may take seconds: stop the spinner before asking it.
        await answer(_("⏳ Buying…"))

    if isinstance(callback_data, BuyCb):
        result = await purchases.buy(
            user_id, user_id, callback_data.quote, message_id, on_purchase=buying
        )
    else:
        result = await purchases.retry(
            user_id, callback_data.order, user_id, message_id, on_purchase=buying
        )
    await render_result(
        query,
        result,
        answer=answer,
        db=db,
        catalog=catalog,
        purchases=purchases,
        clock=clock,
        locale=i18n.current_locale,
    )


def build_router() -> Router:
    router = Router(name="purchase")
    router.callback_query.middleware(BuyersOnly())
    router.callback_query.register(on_price, PriceCb.filter())
    router.callback_query.register(on_save, SaveCb.filter())
    router.callback_query.register(on_again, AgainCb.filter())
    router.callback_query.register(on_purchase, BuyCb.filter())
    router.callback_query.register(on_purchase, OrderCb.filter(F.action == OrderAction.RETRY))
    return router
