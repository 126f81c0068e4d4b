"""Who may buy: admins always; others by an admin's grant, ALLOWED_USER_IDS or OPEN_TO_ALL."""

from __future__ import annotations

import logging

from bot.clock import Clock
from bot.config import Settings
from bot.storage.database import Database

log = logging.getLogger(__name__)


class Access:
    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock

    def is_admin(self, user_id: int) -> bool:
        return self._settings.is_admin(user_id)

    async def can_buy(self, user_id: int) -> bool:
        if self.is_admin(user_id):
            return True
        # An admin's word from the chat overrides the settings, in both directions.
        override = await self._db.access_override(user_id)
        if override is not None:
            return override
        return self._settings.open_to_all or user_id in self._settings.allowed_user_ids

    async def grant(self, actor_id: int, user_id: int) -> None:
        await self._db.set_access(user_id, True, actor_id, self._clock())
        log.info("admin %s granted access to %s", actor_id, user_id)

    async def revoke(self, actor_id: int, user_id: int) -> None:
        await self._db.set_access(user_id, False, actor_id, self._clock())
        log.info("admin %s revoked access of %s", actor_id, user_id)
