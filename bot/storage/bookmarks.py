"""Bookmarks: how far the bot has read a record kept outside it (Telegram's Star transactions)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiosqlite


class BookmarkQueries:
    """A name and a value; kept in the same file as what was done with what was read, so a
    restored backup reads again from where that backup had got to."""

    if TYPE_CHECKING:

        async def _all(self, sql: str, params: tuple[Any, ...]) -> list[aiosqlite.Row]: ...

        async def _write(self, sql: str, params: tuple[Any, ...]) -> tuple[int, int | None]: ...

    async def bookmark(self, name: str) -> str | None:
        rows = await self._all("SELECT value FROM bookmarks WHERE name = ?", (name,))
        return str(rows[0]["value"]) if rows else None

    async def set_bookmark(self, name: str, value: str) -> None:
        await self._write(
            "INSERT INTO bookmarks (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
