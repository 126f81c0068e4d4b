"""Every callback query gets exactly one answer: early when a handler asks, otherwise after it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, TelegramObject

log = logging.getLogger(__name__)


class Answer:
    """The handler's handle on the answer; the first call sends it, later calls are ignored."""

    def __init__(self, query: CallbackQuery) -> None:
        self._query = query
        self.sent = False

    async def __call__(self, text: str | None = None, *, show_alert: bool = False) -> None:
        if self.sent:
            return
        self.sent = True
        try:
            await self._query.answer(text, show_alert=show_alert)
        except TelegramAPIError as exc:
            # Only the spinner or a toast: a late answer (400), or Telegram failing to take it,
            # must not stop what the tap asked for.
            log.warning("callback %s not answered: %s", self._query.id, exc)


class AnswerCallbacks(BaseMiddleware):
    """Handlers that take a slow path call `answer()` first so the spinner stops at once.

    A handler that raises leaves the answer to the error observer, which can then show an alert.
    """

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        answer = data["answer"] = Answer(event)
        result = await handler(event, data)
        await answer()
        return result
