"""The one place that turns order events into Telegram messages to the order's owner."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum

from aiogram import Bot, html
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
)
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from bot.catalog.countries import format_phone
from bot.clock import Clock
from bot.orders.cards import card_of, place
from bot.orders.lifecycle import REFUNDED, Tell
from bot.storage.database import Database
from bot.storage.records import Code, Order

log = logging.getLogger(__name__)

NOT_MODIFIED = "message is not modified"


class Delivery(StrEnum):
    """How a push ended: sent, refused for good (blocked, chat gone, a 400), or worth a retry."""

    SENT = "sent"
    REFUSED = "refused"
    RETRY = "retry"


# The card's buttons, drawn by `keyboards/` and handed in by the composition root, so the
# services never import the presentation layer.
CardKeyboard = Callable[[Order], InlineKeyboardMarkup]


class Notifier:
    def __init__(
        self, bot: Bot, db: Database, i18n: I18n, clock: Clock, card_keyboard: CardKeyboard
    ) -> None:
        self._bot = bot
        self._card_keyboard = card_keyboard
        self._db = db
        self._i18n = i18n
        self._clock = clock

    async def _locale(self, user_id: int) -> str:
        user = await self._db.get_user(user_id)
        language = user.language if user else None
        return language if language in self._i18n.available_locales else self._i18n.default_locale

    async def _send(self, order: Order, text: str) -> tuple[Delivery, str | None]:
        """Send, and say whether Telegram took it; the reason comes with a refusal."""
        try:
            await self._bot.send_message(order.chat_id, text)
        except (TelegramForbiddenError, TelegramNotFound, TelegramBadRequest) as exc:
            # Telegram will refuse the same message to the same chat every time.
            log.warning("order %s: chat %s refused: %s", order.id, order.chat_id, exc.message)
            return Delivery.REFUSED, exc.message
        except TelegramAPIError as exc:
            # 429 left over after the session's retries, 5xx, the network: try again later.
            log.warning("order %s: push to chat %s failed: %s", order.id, order.chat_id, exc)
            return Delivery.RETRY, None
        return Delivery.SENT, None

    async def push_code(self, order: Order, code: Code) -> tuple[Delivery, str | None]:
        """A new message, so the phone notifies; the card is redrawn separately."""
        locale = await self._locale(order.user_id)
        with self._i18n.context(), self._i18n.use_locale(locale):
            number = format_phone(order.number or "", order.country_iso)
            text = self._i18n.gettext("🔑 {app} code: <code>{code}</code> for {number}").format(
                app=html.quote(order.app_title), code=html.quote(code.code), number=number
            )
        return await self._send(order, text)

    async def tell(self, order: Order, tell: Tell) -> None:
        """A short note about an order event that happened without the person tapping."""
        locale = await self._locale(order.user_id)
        with self._i18n.context(), self._i18n.use_locale(locale):
            text = self._notice(order, tell).format(place=place(order, locale))
        await self._send(order, text)

    def _notice(self, order: Order, tell: Tell) -> str:
        _ = self._i18n.gettext
        if tell is Tell.MAY_BE_CHARGED:
            return _(
                "⚠️ A restart of the bot cut your purchase of {place} short, and SMS-man never "
                "told us whether it sold the number. If it did, you may have been charged; "
                "SMS-man returns the money for a number that expires unused. Please buy again."
            )
        if tell is Tell.EXPIRED:
            return _(
                "⌛ No code came for {place} in time. The number was released and the money "
                "returned."
            )
        if order.status in REFUNDED:
            return _(
                "⌛ SMS-man ended the order for {place} before a code came; the money was returned."
            )
        return _("⌛ SMS-man ended the order for {place}; it is closed now.")

    async def update_card(self, order: Order) -> None:
        """Redraw the order's card in place; an unchanged or vanished card is not an error."""
        if order.card_message_id is None:
            return
        locale = await self._locale(order.user_id)
        with self._i18n.context(), self._i18n.use_locale(locale):
            text = await card_of(self._db, order, self._clock(), locale)
            markup = self._card_keyboard(order)
        try:
            await self._bot.edit_message_text(
                text=text,
                chat_id=order.chat_id,
                message_id=order.card_message_id,
                reply_markup=markup,
            )
        except TelegramBadRequest as exc:
            if NOT_MODIFIED not in exc.message:
                log.info("order %s: card not updated: %s", order.id, exc.message)
        except TelegramAPIError as exc:
            log.info("order %s: card not updated: %s", order.id, exc)
