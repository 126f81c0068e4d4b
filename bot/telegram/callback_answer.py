"""Every callback query gets exactly one answer: early when a handler asks, otherwise after it.

aiogram's `CallbackAnswerMiddleware` was the first choice and lacks three things this bot needs:
a handler cannot have the answer sent at a moment of its choosing (Buy stops the spinner before
the provider call, which can take seconds; aiogram's sends before the handler or after it); it
answers in a `finally`, so a handler that raised has already had its query answered and the
error observer can no longer show the person an alert; and a failed answer (too late, Telegram
down) raises out of the middleware instead of being logged, failing a tap whose work was done.
"""

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
