"""Telegram's record of the bot's Stars, read on from a bookmark one transaction at a time."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot
from aiogram.methods import TelegramMethod
from aiogram.types import StarTransaction
from pydantic import ValidationError

from bot.storage.database import Database

log = logging.getLogger(__name__)

# getStarTransactions answers at most this many at a time.
PAGE = 100
BOOKMARK = "star_transactions"
# Transactions skipped and logged already; past this many, one may be logged again.
SKIPPED_KEPT = 1000


class StarTransactionsPage(TelegramMethod[dict[str, Any]]):
    """getStarTransactions with its answer left as JSON: aiogram's own method refuses a whole
    page when one transaction in it is of a kind newer than aiogram, or malformed."""

    __returning__ = dict[str, Any]
    __api_method__ = "getStarTransactions"

    offset: int
    limit: int


class UnreadablePage(Exception):
    """Telegram answered getStarTransactions with something that is not a page."""


class StarTransactions:
    """getStarTransactions lists the bot's transactions oldest first, so what was read once
    stays where it was: a read starts at the bookmark (the offset up to which every page was
    read in full) and reads a partial last page again the next time."""

    def __init__(self, bot: Bot, db: Database) -> None:
        self._bot = bot
        self._db = db
        self._skipped: set[str] = set()

    async def read(self) -> tuple[list[StarTransaction], int]:
        """The transactions from the bookmark on, and the offset to keep once they are dealt
        with (`keep`)."""
        offset = start = await self._bookmark()
        found: list[StarTransaction] = []
        while True:
            page = await self._bot(StarTransactionsPage(offset=offset, limit=PAGE))
            listed = page.get("transactions")
            if not isinstance(listed, list):
                raise UnreadablePage(f"at offset {offset}: {str(page)[:200]}")
            found += [t for t in map(self._parse, listed) if t is not None]
            if len(listed) < PAGE:
                log.debug("Star transactions %s to %s read", start, offset + len(listed))
                return found, offset
            offset += PAGE

    async def keep(self, offset: int) -> None:
        if offset != await self._bookmark():
            await self._db.set_bookmark(BOOKMARK, str(offset))

    async def _bookmark(self) -> int:
        value = await self._db.bookmark(BOOKMARK)
        if value is None or not (value.isascii() and value.isdigit()):
            if value is not None:
                log.warning("bookmark %s is %r: reading from the start", BOOKMARK, value)
            return 0
        return int(value)

    def _parse(self, listed: object) -> StarTransaction | None:
        try:
            return StarTransaction.model_validate(listed, context={"bot": self._bot})
        except ValidationError as error:
            ident = listed.get("id") if isinstance(listed, dict) else None
            name = repr(ident)[:100]
            if name not in self._skipped:
                if len(self._skipped) >= SKIPPED_KEPT:
                    self._skipped.clear()
                self._skipped.add(name)
                reason = error.errors()[0]["msg"] if error.errors() else str(error)
                log.warning("Star transaction %s skipped, not readable: %s", name, reason)
            return None
