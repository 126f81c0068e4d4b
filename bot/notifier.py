"""The one place that turns order events into Telegram messages to the order's owner."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import I18n

from bot.cards import place
from bot.storage import Database, Order

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, bot: Bot, db: Database, i18n: I18n) -> None:
        self._bot = bot
        self._db = db
        self._i18n = i18n

    async def _locale(self, user_id: int) -> str:
        user = await self._db.get_user(user_id)
        language = user.language if user else None
        return language if language in self._i18n.available_locales else self._i18n.default_locale

    async def purchase_interrupted(self, order: Order) -> None:
        locale = await self._locale(order.user_id)
        with self._i18n.use_locale(locale), self._i18n.context():
            text = self._i18n.gettext(
                "⚠️ Your purchase of {place} was interrupted by a restart of the bot. "
                "No number was handed over; please buy again."
            ).format(place=place(order, locale))
        try:
            await self._bot.send_message(order.chat_id, text)
        except TelegramAPIError as exc:
            log.warning("could not tell user %s about order %s: %s", order.user_id, order.id, exc)
