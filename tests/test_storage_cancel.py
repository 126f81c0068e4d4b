"""Stop safety: a write cancelled at any of its await points leaves no transaction open."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bot.orders.lifecycle import OrderStatus
from bot.storage.database import Database
from bot.storage.records import LedgerKind, Quote
from bot.storage.wallets import Movement

PERSON = 7


class CancellingConnection(aiosqlite.Connection):
    """aiosqlite as it is (its worker thread runs whatever was queued, whoever still waits for
    it), except that the task waiting for the `cancel_at`-th operation is cancelled right after
    the operation was queued: a SIGTERM's cancellation landing at that await."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.operations = 0
        self.cancel_at: int | None = None

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.operations += 1
        if self.operations == self.cancel_at:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]


def connect(database: str, **kwargs: Any) -> CancellingConnection:
    connection = aiosqlite.connect(database, **kwargs)
    return CancellingConnection(connection._connector, connection._iter_chunk_size)


async def new_quote(db: Database, app: str = "Telegram") -> Quote:
    return await db.insert_quote(
        user_id=PERSON,
        country_id=1,
        country_title="Russia",
        country_iso="RU",
        application_id=3,
        app_title=app,
        price=Decimal("1"),
        currency="RUB",
        now=1.0,
    )


async def order_id(db: Database) -> int:
    order, _created = await db.insert_order(await new_quote(db), PERSON, 1.0)
    return order.id


async def top_up(db: Database, key: str) -> None:
    await db.post(Movement(PERSON, LedgerKind.TOPUP, key, Decimal("5"), 5), 2.0)


async def buy(db: Database, key: str) -> None:
    await db.insert_order(await new_quote(db, key), PERSON, 2.0, charge=Decimal("1"))


async def code(db: Database, key: str) -> None:
    order = await order_id(db)
    await db.record_code(
        order, key, 2.0, expect=(OrderStatus.PURCHASING,), status=OrderStatus.CODE_RECEIVED
    )


async def refund(db: Database, key: str) -> None:
    order = await order_id(db)
    credit = Movement(PERSON, LedgerKind.REFUND, f"{key}/{order}", Decimal("1"))
    await db.update_order(
        order, expect=(OrderStatus.PURCHASING,), now=2.0, credit=credit, failure=key
    )


async def grant(db: Database, key: str) -> None:
    await db.set_access(PERSON + len(key), True, 1, 2.0)


async def settle(db: Database, key: str) -> None:
    await db.post(Movement(PERSON, LedgerKind.STARS_REFUND, key, Decimal("-1"), pending=True), 2.0)
    await db.settle_pending(LedgerKind.STARS_REFUND, key, 3.0, confirmed=False)


async def language(db: Database, key: str) -> None:
    await db.set_user_language(PERSON, key)


WRITES: dict[str, Callable[[Database, str], Coroutine[Any, Any, None]]] = {
    "a ledger entry": top_up,
    "an order with its charge": buy,
    "a code with its status": code,
    "a status with its refund": refund,
    "an access grant with its audit": grant,
    "a pending entry undone": settle,
    "one plain statement": language,
}


def committed(path: Path) -> dict[str, Any]:
    """What another connection sees: only what was committed."""
    with sqlite3.connect(path) as raw:
        ledger = raw.execute("SELECT kind, key, amount FROM ledger ORDER BY id").fetchall()
        balance = raw.execute("SELECT balance FROM wallets WHERE user_id = ?", (PERSON,))
        row = balance.fetchone()
    return {"ledger": ledger, "balance": Decimal(row[0]) if row else Decimal(0)}


@pytest.mark.parametrize("write", list(WRITES))
async def test_a_write_cancelled_at_any_await_leaves_the_next_one_committed(
    tmp_path: Path, write: str
) -> None:
    """Each of the write's operations in turn is where the cancellation lands; after each, the
    next write must commit (not fail, not join a transaction nobody ends), the wallet must be
    its ledger's sum, and what was committed must be there after a reopen."""
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path, connect=connect)
    connection = db._db
    assert isinstance(connection, CancellingConnection)
    await db.ensure_user(PERSON, "en", 0.0)
    await top_up(db, "float")
    points = 0
    try:
        for point in range(1, 100):
            before = connection.operations
            connection.cancel_at = before + point
            task = asyncio.create_task(WRITES[write](db, f"w{point}"))
            await asyncio.wait({task})
            connection.cancel_at = None
            if not task.cancelled():
                task.result()
                break  # the write has fewer operations than this: every point was tried
            points += 1
            await top_up(db, f"after {point}")
            seen = committed(path)
            assert ("topup", f"after {point}", "5") in seen["ledger"], (write, point)
            assert seen["balance"] == sum(Decimal(a) for _k, _key, a in seen["ledger"])
    finally:
        await db.close()
    assert points >= 1
    reopened = await Database.open(path)
    try:
        assert await reopened.balance(PERSON) == committed(path)["balance"]
        await top_up(reopened, "after the reopen")
    finally:
        await reopened.close()
    assert ("topup", "after the reopen", "5") in committed(path)["ledger"]


async def test_a_cancelled_writer_waiting_for_the_lock_changes_nothing(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        await db.ensure_user(PERSON, "en", 0.0)
        async with db._writing:
            waiting = asyncio.create_task(top_up(db, "never"))
            await asyncio.sleep(0)
            waiting.cancel()
            await asyncio.wait({waiting})
        await top_up(db, "next")
        assert [e.key for e in await db.ledger(PERSON, 10)] == ["next"]
    finally:
        await db.close()
