"""What the metrics and the logs see of Telegram: every Bot API call and every update."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import TelegramObject, Update, User

from bot.logs import USER_ID
from bot.metrics import Metrics

if TYPE_CHECKING:
    from aiogram import Bot


class ObserveCalls(BaseRequestMiddleware):
    """Counts each attempt of each call, inside the pacer so every 429 is seen.

    Only the network and Telegram's 5xx mean Telegram is unreachable: a 400, a 403 from a
    person who blocked the bot or a 429 are answers, and are counted as refusals.
    """

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        try:
            response = await make_request(bot, method)
        except (TelegramNetworkError, TelegramServerError) as exc:
            self._metrics.telegram_call(name, "error", reached=False, error=str(exc))
            raise
        except TelegramAPIError as exc:
            if isinstance(exc, TelegramRetryAfter):
                self._metrics.telegram_429.inc()
            self._metrics.telegram_call(name, "refused", reached=True)
            raise
        self._metrics.telegram_call(name, "ok", reached=True)
        return response


class ObserveUpdates(BaseMiddleware):
    """Counts updates by type, and marks the log lines written while one is handled with the
    person it came from."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        kind = event.event_type if isinstance(event, Update) else type(event).__name__
        self._metrics.update(kind)
        person = data.get("event_from_user")
        token = USER_ID.set(person.id if isinstance(person, User) else None)
        try:
            return await handler(event, data)
        finally:
            USER_ID.reset(token)
