"""People an admin blocked (/block): the `blocked` table, each change audited with it."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiosqlite


class BlockedQueries:
    """The blocked list's statements, on the database's one connection and its write lock."""

    if TYPE_CHECKING:

        async def _all(self, sql: str, params: tuple[Any, ...]) -> list[aiosqlite.Row]: ...

        async def _run(self, sql: str, params: tuple[Any, ...]) -> tuple[int, int | None]: ...

        def _transaction(self) -> AbstractAsyncContextManager[None]: ...

    async def blocked_ids(self) -> set[int]:
        return {row["user_id"] for row in await self._all("SELECT user_id FROM blocked", ())}

    async def set_blocked(self, user_id: int, blocked: bool, actor_id: int, now: float) -> None:
        """Block or unblock, and write it to the audit log in the same transaction (an
        unblock of someone not blocked is audited too: an admin's word is kept as said)."""
        async with self._transaction():
            if blocked:
                await self._run(
                    "INSERT INTO blocked (user_id, actor_id, blocked_at) VALUES (?, ?, ?)"
                    " ON CONFLICT(user_id) DO NOTHING",
                    (user_id, actor_id, now),
                )
            else:
                await self._run("DELETE FROM blocked WHERE user_id = ?", (user_id,))
            await self._run(
                "INSERT INTO audit (actor_id, action, target_id, at) VALUES (?, ?, ?, ?)",
                (actor_id, "block" if blocked else "unblock", user_id, now),
            )
