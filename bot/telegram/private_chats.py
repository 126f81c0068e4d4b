"""The bot works in private chats only: a group gets one line pointing there, nothing else."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Chat, TelegramObject, Update, User
from aiogram.utils.i18n import I18n

from bot.clock import Clock
from bot.i18n import person_locale
from bot.rate_limits import SlidingWindow
from bot.storage.database import Database

log = logging.getLogger(__name__)

# One line a group per this many seconds: a group is not flooded back by the bot.
LINE_EVERY = 60.0


class PrivateChatsOnly(BaseMiddleware):
    """An outer update middleware: an update from a chat that is not private (a group, a
    channel) is answered with one localized line pointing to the private chat and goes no
    further, so no menu, order or card is ever drawn where others see it, and nothing is
    written for the person. A tap on a message in a group gets the line as its answer;
    messages get it at most once a `LINE_EVERY` in each group."""

    def __init__(self, i18n: I18n, db: Database, clock: Clock) -> None:
        self._i18n = i18n
        self._db = db
        self._lines = SlidingWindow(1, LINE_EVERY, clock)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        chat: Chat | None = data.get("event_chat")
        if chat is None or chat.type == ChatType.PRIVATE or not isinstance(event, Update):
            return await handler(event, data)
        user: User | None = data.get("event_from_user")
        bot: Bot = data["bot"]
        query = event.callback_query
        if query is None and (event.message is None or self._lines.take(chat.id) > 0):
            return None
        try:
            text = await self._line(bot, user)
            if query is not None:
                await bot.answer_callback_query(query.id, text=text, show_alert=True)
            else:
                await bot.send_message(chat.id, text)
        except TelegramAPIError as exc:
            log.warning("chat %s (%s): the pointer was not sent: %s", chat.id, chat.type, exc)
        return None

    async def _line(self, bot: Bot, user: User | None) -> str:
        me = await bot.me()
        locale = (
            await person_locale(self._i18n, self._db, user) if user else self._i18n.default_locale
        )
        with self._i18n.context(), self._i18n.use_locale(locale):
            return self._i18n.gettext(
                "🔒 I work in a private chat only, where your numbers and codes stay yours: "
                "open @{username} and send /start."
            ).format(username=me.username)
