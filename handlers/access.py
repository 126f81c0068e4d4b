"""Only admins and allowed users may buy: everyone else is told their id, and nothing is spent."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, User

from bot.owner.access import Access
from handlers.render import show
from handlers.texts import no_access_text
from keyboards.menus import back_to_menu

log = logging.getLogger(__name__)


class BuyersOnly(BaseMiddleware):
    """Wraps the buying routers: the handler never runs for a person without access."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        access: Access = data["access"]
        user: User | None = data.get("event_from_user")
        if user is not None and await access.can_buy(user.id):
            return await handler(event, data)
        user_id = user.id if user else 0
        log.info("user %s without access tried to buy", user_id)
        if isinstance(event, CallbackQuery | Message):
            await show(event, no_access_text(user_id), back_to_menu())
        return None
