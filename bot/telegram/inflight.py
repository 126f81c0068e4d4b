"""Updates being handled right now, so shutdown can let them finish before closing sessions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

log = logging.getLogger(__name__)


class InFlight(BaseMiddleware):
    """aiogram runs each update as a task and does not wait for them when polling stops."""

    def __init__(self) -> None:
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        self._running += 1
        self._idle.clear()
        try:
            return await handler(event, data)
        finally:
            self._running -= 1
            if not self._running:
                self._idle.set()

    @property
    def running(self) -> int:
        """How many updates are being handled now."""
        return self._running

    async def drain(self, grace: float) -> None:
        """Wait for the updates under way, at most `grace` seconds."""
        try:
            # asyncio.timeout rather than wait_for, which can swallow a cancellation on 3.11.
            async with asyncio.timeout(grace):
                await self._idle.wait()
        except TimeoutError:
            log.warning("stopping with %d updates still being handled", self._running)
