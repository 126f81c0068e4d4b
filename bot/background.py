"""Work repeated in the background: at once, then every period, until the bot stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Every:
    """Runs `work` at once and then every `period` seconds, from `start` to `stop`. A round
    that fails is logged with `failed` and the next one comes: what the work leaves stands
    until then. `stop` cancels a round under way, so the work must be safe to cut short."""

    def __init__(
        self, period: float, work: Callable[[], Awaitable[None]], *, name: str, failed: str
    ) -> None:
        self._period = period
        self._work = work
        self._name = name
        self._failed = failed
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._rounds(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _rounds(self) -> None:
        while True:
            try:
                await self._work()
            except Exception:
                log.exception(self._failed)
            await asyncio.sleep(self._period)
