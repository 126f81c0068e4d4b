"""What the bot wrote and no longer needs is deleted on a timer: its file does not grow forever."""

from __future__ import annotations

import logging

from bot.clock import Clock
from bot.periodic import Periodic
from bot.storage.database import Database

log = logging.getLogger(__name__)

# Every price screen writes a quote; one nobody bought from within a day is not bought from.
QUOTES_KEPT_FOR = 86_400.0
EVERY = 3600.0


class Housekeeping:
    def __init__(self, db: Database, clock: Clock, *, every: float = EVERY) -> None:
        self._db = db
        self._clock = clock
        self._timer = Periodic("housekeeping", self.sweep, every)

    async def sweep(self) -> int:
        pruned = await self._db.prune_quotes(self._clock() - QUOTES_KEPT_FOR)
        if pruned:
            log.info("housekeeping: %d quotes older than a day pruned", pruned)
        return pruned

    def start(self) -> None:
        self._timer.start()

    async def stop(self) -> None:
        await self._timer.stop()
