"""A Bot session middleware that waits out Telegram's 429 `retry_after`, boundedly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)


class RetryAfterMiddleware(BaseRequestMiddleware):
    """Telegram did not execute a call it answered with 429, so repeating it is always safe."""

    def __init__(
        self,
        *,
        attempts: int = 3,
        max_wait: float = 30.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._attempts = attempts
        self._max_wait = max_wait
        self._sleep = sleep

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        for attempt in range(1, self._attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == self._attempts or exc.retry_after > self._max_wait:
                    raise
                log.warning(
                    "Telegram %s: 429, retrying in %ss (%d/%d)",
                    method.__api_method__,
                    exc.retry_after,
                    attempt,
                    self._attempts,
                )
                await self._sleep(exc.retry_after)
        raise AssertionError("unreachable")  # pragma: no cover
