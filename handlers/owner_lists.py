"""The owner's lists: /stats, and /orders with retries and held charges, in either sales mode."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from decimal import Decimal

from aiogram import Router, html
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from bot.clock import Clock
from bot.config import Settings
from bot.money import format_money
from bot.orders.cards import place, status_name
from bot.orders.lifecycle import OrderStatus
from bot.orders.outbox import Outbox
from bot.orders.service import OrderService
from bot.owner.provider_float import ProviderFloat
from bot.owner.stats import Figures, collect, troubled
from bot.storage.database import Database
from bot.storage.records import Order
from bot.telegram.callback_answer import Answer
from bot.telegram.message_limits import clip, cut_pages
from bot.wallet.owner import WalletDesk
from handlers.admin import admins_only
from handlers.render import show
from keyboards.callbacks import AdminHoldCb, AdminOrderCb, HoldAction, StatsPageCb, TroubledPageCb
from keyboards.pickers import Item, Page, paged

# SMS-man's titles and the reasons SMS-man and Telegram give have no bound: a line of /orders
# shows this much of each, so that every line fits a page.
TITLE_SHOWN = 40
REASON_SHOWN = 100

# A page's text and its buttons.
Screen = tuple[str, InlineKeyboardMarkup | None]


def figures_line(figures: Figures, currency: str, *, wallet: bool = False) -> str:
    line = _(
        "{orders} · codes {with_code} ({rate:.0%}) · spent {spend} · refunded {refunded} · "
        "active {active}"
    ).format(
        orders=ngettext("{count} order", "{count} orders", figures.orders).format(
            count=figures.orders
        ),
        with_code=figures.with_code,
        rate=figures.success_rate,
        spend=format_money(figures.spend, currency),
        refunded=format_money(figures.refunded, currency),
        active=figures.active,
    )
    if wallet:
        line += " · " + _("revenue {revenue} · provider cost {cost} · margin {margin}").format(
            revenue=format_money(figures.revenue, currency),
            cost=format_money(figures.provider_cost, currency),
            margin=format_money(figures.margin, currency),
        )
    return line


async def stats_page(
    db: Database, provider_float: ProviderFloat, settings: Settings, page: int
) -> Screen | None:
    """Page `page` of /stats (the figures in total, then the people, most spent first), or
    None past the last page."""
    stats = await collect(db)
    currency = settings.currency
    balance = await provider_float.balance()
    header = "\n".join(
        [
            _("📊 <b>Statistics</b>"),
            _("SMS-man balance: {balance}").format(
                balance=format_money(balance, currency) if balance is not None else "—"
            ),
            _("Total: {figures}").format(
                figures=figures_line(stats.total, currency, wallet=settings.wallet)
            ),
        ]
    )
    ranked = sorted(stats.users.items(), key=lambda item: item[1].spend, reverse=True)
    lines = [
        f"👤 <code>{user_id}</code>: {figures_line(figures, currency, wallet=settings.wallet)}"
        for user_id, figures in ranked
    ]
    pages = cut_pages(header, lines)
    if page >= len(pages):
        return None
    markup = paged(Page((), page, len(pages)), to_page=lambda number: StatsPageCb(page=number))
    return _page_text(header, lines, pages[page]), markup


async def on_stats(
    message: Message, db: Database, provider_float: ProviderFloat, settings: Settings
) -> None:
    await _first_page(message, await stats_page(db, provider_float, settings, 0))


async def on_stats_page(
    query: CallbackQuery,
    callback_data: StatsPageCb,
    db: Database,
    provider_float: ProviderFloat,
    settings: Settings,
) -> None:
    await _flip(query, await stats_page(db, provider_float, settings, callback_data.page))


def troubled_line(order: Order, locale: str) -> str:
    # Reasons come from SMS-man and Telegram: unbounded text, not markup.
    failure = clip(order.failure or "?", REASON_SHOWN)
    if order.is_open:
        why = _("stuck since its deadline")
    elif order.status is OrderStatus.LOST:
        why = _("not confirmed by SMS-man: {reason}").format(reason=failure)
    elif order.status is OrderStatus.FAILED:
        why = _("failed: {reason}").format(reason=failure)
    else:
        why = status_name(order.status)
    if order.delivery_note is not None:
        note = clip(order.delivery_note, REASON_SHOWN)
        why += " · " + _("code not delivered: {reason}").format(reason=note)
    if order.status is OrderStatus.LOST and order.paid is not None:
        why += " · " + _("wallet charge {paid}").format(
            paid=format_money(order.paid, order.currency)
        )
    where = place(order, locale, longest=TITLE_SHOWN)
    return f"#{order.id} · <code>{order.user_id}</code> · {where} · {html.quote(why)}"


def troubled_actions(order: Order, *, held: bool) -> list[Item]:
    """An open order's retry; a held charge's two decisions."""
    if order.is_open:
        return [Item(_("🔄 Retry order #{id}").format(id=order.id), AdminOrderCb(order=order.id))]
    if not held:
        return []
    return [
        Item(
            _("↩️ Give order #{id}'s charge back").format(id=order.id),
            AdminHoldCb(order=order.id, action=HoldAction.REFUND),
        ),
        Item(
            _("✔️ Keep order #{id}'s charge").format(id=order.id),
            AdminHoldCb(order=order.id, action=HoldAction.KEEP),
        ),
    ]


async def orders_page(db: Database, now: float, locale: str, page: int) -> Screen | None:
    """Page `page` of /orders (every order that needs a look, newest first, with its
    buttons), or None past the last page."""
    listed = await troubled(db, now)
    found, held = listed.orders[::-1], listed.held
    if not found:
        return (_("✅ No stuck or failed orders."), None) if page == 0 else None
    header = _("🧯 Orders that need a look:")
    lines = [troubled_line(order, locale) for order in found]
    # A retry for an open order, two decisions for a held charge (see troubled_actions).
    counts = [1 if order.is_open else 2 if order.id in held else 0 for order in found]
    pages = cut_pages(header, lines, counts)
    if page >= len(pages):
        return None
    items = [
        item
        for index in pages[page]
        for item in troubled_actions(found[index], held=found[index].id in held)
    ]
    markup = paged(Page(items, page, len(pages)), to_page=lambda n: TroubledPageCb(page=n))
    return _page_text(header, lines, pages[page]), markup


async def on_orders(message: Message, db: Database, clock: Clock, i18n: I18n) -> None:
    await _first_page(message, await orders_page(db, clock(), i18n.current_locale, 0))


async def on_orders_page(
    query: CallbackQuery,
    callback_data: TroubledPageCb,
    db: Database,
    clock: Clock,
    i18n: I18n,
) -> None:
    page = callback_data.page
    await _flip(query, await orders_page(db, clock(), i18n.current_locale, page))


def _page_text(header: str, lines: Sequence[str], shown: range) -> str:
    return "\n".join([header, *(lines[index] for index in shown)])


async def _first_page(message: Message, shown: Screen | None) -> None:
    assert shown is not None, "a list always has a first page"
    text, markup = shown
    await message.answer(text, reply_markup=markup)


async def _flip(query: CallbackQuery, shown: Screen | None) -> None:
    """The page in place of the one tapped on."""
    if shown is None:
        # Past the last page: forged, or the list shrank since. Answered as a stale button.
        raise SkipHandler
    await show(query, *shown)


async def on_retry_order(
    query: CallbackQuery, callback_data: AdminOrderCb, orders: OrderService, answer: Answer
) -> None:
    await answer(_("🔄 Retrying…"))
    await orders.poll(callback_data.order)
    order = await orders.peek(callback_data.order)
    status = status_name(order.status) if order else "?"
    await query.bot.send_message(  # type: ignore[union-attr]
        query.from_user.id,
        _("Order #{id} is now: {status}").format(id=callback_data.order, status=status),
    )


async def on_hold(
    query: CallbackQuery,
    callback_data: AdminHoldCb,
    desk: WalletDesk,
    orders: OrderService,
    db: Database,
    settings: Settings,
    i18n: I18n,
    outbox: Outbox,
    answer: Answer,
) -> None:
    """The owner's decision on a charge SMS-man left unknown: back to the wallet, or kept; the
    person's card then says which, and so does a message to them."""
    order = await orders.peek(callback_data.order)
    refund = callback_data.action is HoldAction.REFUND
    if order is None or not await desk.resolve_hold(query.from_user.id, order, refund=refund):
        await answer(_("This charge is not on hold (decided already?)."), show_alert=True)
        return
    paid = format_money(order.paid or Decimal(0), settings.currency)
    await answer(
        _("↩️ {paid} given back.").format(paid=paid)
        if refund
        else _("✔️ {paid} kept.").format(paid=paid)
    )
    outbox.card(order)
    # The person learns the outcome in their own language, not the owner's.
    person = await db.get_user(order.user_id)
    with i18n.use_locale((person.language if person else None) or i18n.default_locale):
        told = (
            _("↩️ {paid} for order #{id} is back in your wallet.")
            if refund
            else _("✔️ Order #{id} went through at SMS-man: its {paid} stays charged.")
        ).format(paid=paid, id=order.id)
    with suppress(TelegramAPIError):
        await query.bot.send_message(order.user_id, told)  # type: ignore[union-attr]


def build_router() -> Router:
    router = Router(name="owner_lists")
    router.message.filter(admins_only)
    router.callback_query.filter(admins_only)
    router.message.register(on_stats, Command("stats"))
    router.message.register(on_orders, Command("orders"))
    router.callback_query.register(on_stats_page, StatsPageCb.filter())
    router.callback_query.register(on_orders_page, TroubledPageCb.filter())
    router.callback_query.register(on_retry_order, AdminOrderCb.filter())
    # Not only in wallet mode: a charge held before a switch back to owner mode is decided too.
    router.callback_query.register(on_hold, AdminHoldCb.filter())
    return router
