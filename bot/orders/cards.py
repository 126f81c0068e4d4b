"""The order card: one message per order showing its number, price, codes and time left."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from aiogram import html
from aiogram.utils.i18n import gettext as _
from aiogram.utils.text_decorations import html_decoration

from bot.catalog.countries import country_name, flag, paste_forms
from bot.money import format_money
from bot.orders.lifecycle import LIVE_STATUSES, OrderStatus
from bot.storage.database import Database
from bot.storage.records import Code, LedgerKind, Order
from bot.telegram.message_limits import clip


def countdown_hours(seconds: float) -> str:
    """'5 h 12 min' for waits of hours, falling back to minutes under one hour."""
    hours, rest = divmod(max(0, math.ceil(seconds / 60)), 60)
    if not hours:
        return countdown(seconds)
    return _("{hours} h {minutes} min").format(hours=hours, minutes=rest)


def countdown(seconds: float) -> str:
    """Whole minutes, rounded up."""
    return _("{minutes} min").format(minutes=max(0, math.ceil(seconds / 60)))


def held_until(deadline: float, now: float) -> dict[str, str]:
    """The deadline as Telegram date entities, which the person's app shows in their own time
    zone and, for `left`, as a live "in 12 minutes": the card needs no redraw to count down.
    An app too old for them shows the text inside: the time in UTC, and the minutes left when
    the card was drawn."""
    moment = int(deadline)
    clock = datetime.fromtimestamp(moment, UTC).strftime("%H:%M UTC")
    left = _("in {time}").format(time=countdown(deadline - now))
    return {
        "until": html_decoration.date_time(clock, moment, "t"),
        "left": html_decoration.date_time(left, moment, "r"),
    }


def status_name(status: OrderStatus) -> str:
    names = {
        OrderStatus.PURCHASING: _("buying"),
        OrderStatus.ACTIVE: _("waiting for the SMS"),
        OrderStatus.CODE_RECEIVED: _("code received"),
        OrderStatus.WAITING_AGAIN: _("waiting for another SMS"),
        OrderStatus.CLOSED: _("done"),
        OrderStatus.CANCELLED: _("cancelled, refunded"),
        OrderStatus.EXPIRED: _("expired, refunded"),
        OrderStatus.FAILED: _("not bought"),
        OrderStatus.LOST: _("not confirmed by SMS-man"),
    }
    return names[status]


def place(order: Order, locale: str, *, longest: int | None = None) -> str:
    """'📱 Telegram · 🇺🇸 United States', escaped for HTML; with `longest`, each name cut to
    that many characters (SMS-man's titles have no bound)."""
    country = country_name(order.country_iso, order.country_title, locale)
    app = order.app_title
    if longest is not None:
        app, country = clip(app, longest), clip(country, longest)
    return f"<b>{html.quote(app)}</b> · {flag(order.country_iso)} {html.quote(country)}"


def _status(order: Order, now: float, decided: LedgerKind | None) -> str:
    if order.status in LIVE_STATUSES and now >= (order.deadline or now):
        # The reject or close at the deadline has not been confirmed yet: it is retried.
        return _("⏳ Time is up: releasing the number at SMS-man…")
    held = held_until(order.deadline or now, now)
    if order.status is OrderStatus.ACTIVE:
        return _("⏳ Waiting for the SMS until {until} ({left}).").format(**held)
    if order.status is OrderStatus.CODE_RECEIVED:
        return _("✅ Code received. You can ask for another SMS until {until} ({left}).").format(
            **held
        )
    if order.status is OrderStatus.WAITING_AGAIN:
        return _("📩 Waiting for another SMS until {until} ({left}).").format(**held)
    if order.status is OrderStatus.CANCELLED and order.failure == "used":
        return _("🚫 Reported as used or banned: the number was released and the money returned.")
    if order.status is OrderStatus.CANCELLED:
        return _("❌ Cancelled: the number was released and the money returned.")
    if order.status is OrderStatus.EXPIRED:
        return _("⌛ No code arrived in time: the number was released and the money returned.")
    if order.status is OrderStatus.CLOSED:
        return _("✔️ Done.")
    if order.status is OrderStatus.PURCHASING:
        return _("⏳ Buying a number…")
    if order.status is OrderStatus.LOST:
        return may_be_charged(order, decided)
    return _("⚠️ The purchase did not go through; nothing was charged for it.")


def may_be_charged(order: Order, decided: LedgerKind | None = None) -> str:
    """A purchase SMS-man never confirmed; in wallet mode its charge waits for the owner, who
    gives it back (a REFUND) or keeps it (HOLD_KEPT)."""
    if order.paid is not None:
        paid = format_money(order.paid, order.currency)
        if decided is LedgerKind.REFUND:
            return _(
                "⚠️ SMS-man did not confirm this purchase. The bot's owner checked it: your "
                "{paid} is back in your wallet."
            ).format(paid=paid)
        if decided is LedgerKind.HOLD_KEPT:
            return _(
                "⚠️ SMS-man did not confirm this purchase. The bot's owner checked it: SMS-man "
                "sold the number, so your {paid} stays charged."
            ).format(paid=paid)
        return _(
            "⚠️ SMS-man did not confirm this purchase. Your {paid} is on hold until the bot's "
            "owner checks it: if no number was sold, it comes back to your wallet."
        ).format(paid=paid)
    return _(
        "⚠️ SMS-man did not confirm this purchase. You may have been charged for a number "
        "we never received; SMS-man returns the money for a number that expires unused."
    )


def number_lines(number: str, iso: str | None) -> list[str]:
    """The number ready to paste, as forms ask for it: with the calling code, and without it
    for forms that take the country apart; each taps to copy."""
    forms = paste_forms(number, iso)
    lines = [f"☎️ <code>{html.quote(forms.e164)}</code>"]
    if forms.national is not None and forms.calling_code is not None:
        lines.append(
            _("🔢 Without {code}: <code>{national}</code>").format(
                code=forms.calling_code, national=forms.national
            )
        )
    return lines


async def card_of(db: Database, order: Order, now: float, locale: str) -> str:
    """The card as it stands, in the current language: with the order's codes and, for a held
    charge, what the owner decided of it."""
    codes = await db.order_codes(order.id)
    held = order.status is OrderStatus.LOST and order.paid is not None
    decided = await db.hold_decision(order.id) if held else None
    return card_text(order, codes, now, locale, decided=decided)


def card_text(
    order: Order,
    codes: list[Code],
    now: float,
    locale: str,
    *,
    decided: LedgerKind | None = None,
) -> str:
    lines = [f"📱 {place(order, locale)}"]
    if order.number:
        lines.extend(number_lines(order.number, order.country_iso))
    lines.append(
        _("💰 Price: <b>{price}</b>").format(price=format_money(order.charged, order.currency))
    )
    for code in codes:
        lines.append(_("🔑 Code: <code>{code}</code>").format(code=html.quote(code.code)))
    lines.append("")
    lines.append(_status(order, now, decided))
    return "\n".join(lines)
