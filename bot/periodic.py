"""Work the bot does on a timer in the background: at once, then every so often, until stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs `work` at start and then `every` seconds after each round ends. A round that fails
    is logged and the next one comes on time: what it keeps up to date stays as it was, and
    no background chore can stop the bot. A start never waits for a round."""

    def __init__(self, name: str, work: Callable[[], Awaitable[object]], every: float) -> None:
        self._name = name
        self._work = work
        self._every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._rounds(), name=self._name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # asyncio.wait rather than awaiting under suppress(CancelledError), which would
            # also swallow a cancellation of stop() itself.
            await asyncio.wait({task})

    async def _rounds(self) -> None:
        while True:
            try:
                await self._work()
            except Exception:
                log.exception(
                    "%s: this round failed; the next one comes in %gs", self._name, self._every
                )
            await asyncio.sleep(self._every)
