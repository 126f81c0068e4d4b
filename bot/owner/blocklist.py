"""Who the bot ignores: people an admin blocked, kept in memory and in sqlite."""

from __future__ import annotations

import logging

from bot.clock import Clock
from bot.config import Settings
from bot.storage.database import Database

log = logging.getLogger(__name__)


class Blocklist:
    """Read at start and written through, so the gate asks memory for every update."""

    def __init__(self, db: Database, settings: Settings, clock: Clock, blocked: set[int]) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._blocked = blocked

    @classmethod
    async def load(cls, db: Database, settings: Settings, clock: Clock) -> Blocklist:
        return cls(db, settings, clock, await db.blocked_ids())

    def __contains__(self, user_id: int) -> bool:
        return user_id in self._blocked

    async def block(self, actor_id: int, user_id: int) -> bool:
        """False for an admin, who cannot be blocked (ADMIN_IDS is the owner's word)."""
        if self._settings.is_admin(user_id):
            return False
        await self._db.set_blocked(user_id, True, actor_id, self._clock())
        self._blocked.add(user_id)
        log.info("admin %s blocked %s", actor_id, user_id)
        return True

    async def unblock(self, actor_id: int, user_id: int) -> None:
        await self._db.set_blocked(user_id, False, actor_id, self._clock())
        self._blocked.discard(user_id)
        log.info("admin %s unblocked %s", actor_id, user_id)
