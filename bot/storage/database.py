"""aiosqlite storage: one connection, writes taking turns, explicit queries, people in memory."""

from __future__ import annotations

import asyncio
import enum
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.orders.lifecycle import OPEN_STATUSES, OrderStatus
from bot.storage.blocked import BlockedQueries
from bot.storage.bookmarks import BookmarkQueries
from bot.storage.files import private_file, private_folder
from bot.storage.records import (
    Code,
    LedgerKind,
    Order,
    Quote,
    SavedPair,
    User,
    code_from_row,
    order_from_row,
    quote_from_row,
    user_from_row,
)
from bot.storage.schema import MIGRATIONS
from bot.storage.wallets import Movement, WalletQueries

K = TypeVar("K")
V = TypeVar("V")

# What a person's History lists: orders that had (or may have had) a number.
HISTORY_STATUSES = (
    OrderStatus.CLOSED,
    OrderStatus.CANCELLED,
    OrderStatus.EXPIRED,
    OrderStatus.LOST,
)
# People whose rows are kept in memory; past it the longest-kept is read again when needed.
PEOPLE_KEPT = 10_000


def _keep(cache: dict[K, V], key: K, value: V) -> V:
    cache.pop(key, None)
    cache[key] = value
    if len(cache) > PEOPLE_KEPT:
        del cache[next(iter(cache))]
    return value


class Database(WalletQueries, BookmarkQueries, BlockedQueries):
    """One connection per process; writes take turns, so a transaction holds only its own.

    All coroutines share the connection, and sqlite has one transaction per connection: a
    statement sent while another coroutine's BEGIN is open would join (and roll back with)
    that transaction. So every write, single statement or transaction, holds `_writing`.

    What every tap reads about its person (their row, an admin's access decision, their recent
    choices) is kept in memory and updated by the writes here: this process is the database's
    only writer, so the copy cannot go stale, and a page flip makes no sqlite round trip.
    """

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection
        self._writing = asyncio.Lock()
        self._users: dict[int, User] = {}
        self._access: dict[int, bool | None] = {}
        # By person, then by (column, limit): a new order forgets all of one person's.
        self._recent: dict[int, dict[tuple[str, int], list[int]]] = {}
        self._saved: dict[int, list[SavedPair]] = {}
        # The newest write under way of some of a person's fields, by person and field names.
        self._latest_writes: dict[tuple[Any, ...], object] = {}

    @classmethod
    async def open(
        cls, path: Path | str, *, connect: Callable[..., aiosqlite.Connection] = aiosqlite.connect
    ) -> Database:
        if str(path) != ":memory:":
            private_folder(Path(path).parent)
            private_file(Path(path))
        connection = await connect(str(path), isolation_level=None)
        database = cls(connection)
        try:
            connection.row_factory = aiosqlite.Row
            await connection.execute("PRAGMA journal_mode=WAL")
            await connection.execute("PRAGMA foreign_keys=ON")
            await connection.execute("PRAGMA busy_timeout=5000")
            await database.migrate()
        except BaseException:
            await connection.close()
            raise
        return database

    async def close(self) -> None:
        await self._db.close()

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> None:
        version = await self.schema_version()
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"database schema v{version} is newer than this bot (v{len(MIGRATIONS)})"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            # executescript commits on its own, so the version bump rides in the same script.
            await self._db.executescript(
                f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
            )

    async def _one(self, sql: str, params: tuple[Any, ...]) -> aiosqlite.Row | None:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def _all(self, sql: str, params: tuple[Any, ...]) -> list[aiosqlite.Row]:
        # One trip to sqlite's thread, where a cursor would take three (run, fetch, close).
        return list(await self._db.execute_fetchall(sql, params))

    async def _write(self, sql: str, params: tuple[Any, ...]) -> tuple[int, int | None]:
        """One statement on its own; returns the rows it changed and the last row id."""
        async with self._writing:
            return await self._run(sql, params)

    async def _run(self, sql: str, params: tuple[Any, ...]) -> tuple[int, int | None]:
        cursor = await self._db.execute(sql, params)
        changed, row_id = cursor.rowcount, cursor.lastrowid
        await cursor.close()
        return changed, row_id

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """Statements sent with `_run` inside the block commit together or not at all.

        A cancellation (a stop cancels tasks) can land at any await here, and aiosqlite's
        thread still runs an operation whose caller stopped waiting: a BEGIN whose await was
        cancelled still begins. So every way out of the block past the BEGIN's queueing sends
        a ROLLBACK, queued after whatever the block queued (the thread keeps their order) and
        shielded from a second cancellation; after a COMMIT it finds nothing to roll back.
        """
        async with self._writing:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                yield
                await self._db.execute("COMMIT")
            except BaseException:
                await asyncio.shield(self._rollback())
                raise

    async def _rollback(self) -> None:
        try:
            await self._db.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            # The COMMIT went through, or the BEGIN itself failed: nothing is open.
            if "no transaction is active" not in str(exc):
                raise

    # users

    async def ensure_user(self, user_id: int, language: str | None, now: float) -> User:
        """Record a user on first contact; an existing user keeps the language they chose."""
        kept = self._users.get(user_id)
        if kept is not None:
            return kept
        await self._write(
            "INSERT INTO users (id, language, first_seen) VALUES (?, ?, ?) "
            "ON CONFLICT(id) DO NOTHING",
            (user_id, language, now),
        )
        user = await self.get_user(user_id)
        assert user is not None
        return user

    async def get_user(self, user_id: int) -> User | None:
        kept = self._users.get(user_id)
        if kept is not None:
            return kept
        row = await self._one("SELECT * FROM users WHERE id = ?", (user_id,))
        return _keep(self._users, user_id, user_from_row(row)) if row else None

    async def set_user_language(self, user_id: int, language: str) -> None:
        await self._write_user(
            user_id, "UPDATE users SET language = ? WHERE id = ?", language=language
        )

    async def set_screen(
        self, user_id: int, screen: str | None, menu_message_id: int | None
    ) -> None:
        """Remember which picker a person looks at, so typed text can search it."""
        kept = self._users.get(user_id)
        if (
            kept
            and (kept.screen, kept.menu_message_id) == (screen, menu_message_id)
            and (user_id, "screen", "menu_message_id") not in self._latest_writes
        ):
            return
        await self._write_user(
            user_id,
            "UPDATE users SET screen = ?, menu_message_id = ? WHERE id = ?",
            screen=screen,
            menu_message_id=menu_message_id,
        )

    async def _write_user(self, user_id: int, sql: str, **changes: Any) -> None:
        """`sql` sets `changes` (in that order) on the person's row, and so does the kept copy:
        before the write, so the person's next update (which may be handled while the write
        waits for sqlite) reads it, and again after, over any read that overtook it, unless a
        newer write of the same fields was made meanwhile."""
        latest = (user_id, *changes)
        mine = self._latest_writes[latest] = object()
        self._patch_user(user_id, changes)
        try:
            await self._write(sql, (*changes.values(), user_id))
        except BaseException:
            # Memory may now say what the file does not: read the row again when next needed.
            self._users.pop(user_id, None)
            raise
        finally:
            if self._latest_writes.get(latest) is mine:
                del self._latest_writes[latest]
                self._patch_user(user_id, changes)

    def _patch_user(self, user_id: int, changes: dict[str, Any]) -> None:
        kept = self._users.get(user_id)
        if kept is not None:
            self._users[user_id] = replace(kept, **changes)

    # quotes

    async def insert_quote(
        self,
        *,
        user_id: int,
        country_id: int,
        country_title: str,
        country_iso: str | None,
        application_id: int,
        app_title: str,
        price: Decimal,
        currency: str,
        now: float,
    ) -> Quote:
        _changed, quote_id = await self._write(
            "INSERT INTO quotes (user_id, country_id, country_title, country_iso, application_id,"
            " app_title, price, currency, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                user_id,
                country_id,
                country_title,
                country_iso,
                application_id,
                app_title,
                str(price),
                currency,
                now,
            ),
        )
        quote = await self.get_quote(int(quote_id or 0))
        assert quote is not None
        return quote

    async def requote(self, quote: Quote, price: Decimal, now: float) -> Quote:
        """A new quote for the same country and app at another price."""
        return await self.insert_quote(
            user_id=quote.user_id,
            country_id=quote.country_id,
            country_title=quote.country_title,
            country_iso=quote.country_iso,
            application_id=quote.application_id,
            app_title=quote.app_title,
            price=price,
            currency=quote.currency,
            now=now,
        )

    async def prune_quotes(self, before: float, *, batch: int = 500) -> int:
        """Delete the quotes made before `before` that no order was made from; returns how
        many. In batches, so no other write waits long for its turn. A pruned quote's Buy
        button finds nothing and says so, and no later quote takes its id (AUTOINCREMENT)."""
        pruned = 0
        while True:
            changed, _row = await self._write(
                "DELETE FROM quotes WHERE id IN (SELECT id FROM quotes WHERE created_at < ?"
                " AND NOT EXISTS (SELECT 1 FROM orders WHERE orders.quote_id = quotes.id)"
                " LIMIT ?)",
                (before, batch),
            )
            pruned += changed
            if changed < batch:
                return pruned
            await asyncio.sleep(0)

    async def get_quote(self, quote_id: int) -> Quote | None:
        row = await self._one("SELECT * FROM quotes WHERE id = ?", (quote_id,))
        return quote_from_row(row) if row else None

    # orders

    async def insert_order(
        self,
        quote: Quote,
        chat_id: int,
        now: float,
        *,
        card_message_id: int | None = None,
        retry_of: int | None = None,
        charge: Decimal | None = None,
    ) -> tuple[Order, bool]:
        """The order for a quote (or for the retry of an order), created by the first call only.

        A quote buys at most once, and a failed order is tried again at most once: a repeated
        tap gets the same order. Returns the order and whether this call created it. With a
        `charge`, the order and the wallet's purchase entry are written together or not at all
        (InsufficientFunds).
        """
        # Forgotten before the insert too, so a picker drawn meanwhile reads it afresh.
        self._recent.pop(quote.user_id, None)
        async with self._transaction() if charge is not None else self._writing:
            changed, row_id = await self._run(
                "INSERT INTO orders (quote_id, user_id, chat_id, card_message_id, country_id,"
                " country_title, country_iso, application_id, app_title, price, currency,"
                " status, created_at, updated_at, retry_of, paid)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (
                    quote.id,
                    quote.user_id,
                    chat_id,
                    card_message_id,
                    quote.country_id,
                    quote.country_title,
                    quote.country_iso,
                    quote.application_id,
                    quote.app_title,
                    str(quote.price),
                    quote.currency,
                    OrderStatus.PURCHASING.value,
                    now,
                    now,
                    retry_of,
                    None if charge is None else str(charge),
                ),
            )
            if changed == 1 and charge is not None:
                purchase = Movement(quote.user_id, LedgerKind.PURCHASE, str(row_id), -charge)
                if not await self._post(purchase, now):
                    # A charge already on this key (a restored ledger?): no order without one.
                    raise RuntimeError(f"order {row_id} has a purchase entry already")
        created = changed == 1
        if created:
            self._recent.pop(quote.user_id, None)
        existing = (
            await self.order_for_quote(quote.id)
            if retry_of is None
            else await self.order_for_retry(retry_of)
        )
        assert existing is not None
        return existing, created

    async def order_for_quote(self, quote_id: int) -> Order | None:
        row = await self._one("SELECT * FROM orders WHERE quote_id = ?", (quote_id,))
        return order_from_row(row) if row else None

    async def order_for_retry(self, order_id: int) -> Order | None:
        """The order that tried `order_id` again, if there is one."""
        row = await self._one("SELECT * FROM orders WHERE retry_of = ?", (order_id,))
        return order_from_row(row) if row else None

    async def order_for_request(self, request_id: int) -> Order | None:
        row = await self._one("SELECT * FROM orders WHERE request_id = ?", (request_id,))
        return order_from_row(row) if row else None

    async def get_order(self, order_id: int) -> Order | None:
        row = await self._one("SELECT * FROM orders WHERE id = ?", (order_id,))
        return order_from_row(row) if row else None

    async def update_order(
        self,
        order_id: int,
        *,
        expect: tuple[OrderStatus, ...],
        now: float,
        credit: Movement | None = None,
        **fields: Any,
    ) -> Order | None:
        """Compare-and-set: change the order only while its status is one of `expect`; a
        `credit` to the buyer's wallet is written with the change or not at all.

        Returns the updated order, or None when another transition got there first.
        """
        # Only money needs a transaction: a plain status change stays one statement.
        async with self._transaction() if credit is not None else self._writing:
            changed = await self._set_order(order_id, expect, now, fields)
            if changed and credit is not None:
                await self._post(credit, now)
        return await self.get_order(order_id) if changed else None

    async def _set_order(
        self,
        order_id: int,
        expect: tuple[OrderStatus, ...],
        now: float,
        fields: dict[str, Any],
    ) -> bool:
        allowed = {"card_message_id", "number", "request_id", "status", "failure", "deadline"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not order fields: {sorted(unknown)}")
        values = {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in fields.items()}
        values = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}
        assignments = ", ".join(f"{name} = ?" for name in [*values, "updated_at"])
        marks = ", ".join("?" for _ in expect)
        changed, _row = await self._run(
            f"UPDATE orders SET {assignments} WHERE id = ? AND status IN ({marks})",
            (*values.values(), now, order_id, *(s.value for s in expect)),
        )
        return changed == 1

    async def open_orders(self) -> list[Order]:
        marks = ", ".join("?" for _ in OPEN_STATUSES)
        rows = await self._all(
            f"SELECT * FROM orders WHERE status IN ({marks}) ORDER BY id",
            tuple(s.value for s in OPEN_STATUSES),
        )
        return [order_from_row(row) for row in rows]

    async def count_open_orders(self) -> int:
        marks = ", ".join("?" for _ in OPEN_STATUSES)
        row = await self._one(
            f"SELECT count(*) FROM orders WHERE status IN ({marks})",
            tuple(s.value for s in OPEN_STATUSES),
        )
        return int(row[0]) if row else 0

    async def write_health(self, now: float) -> None:
        """A write that changes nothing else, to prove sqlite still takes one."""
        await self._write(
            "INSERT INTO health (id, checked_at) VALUES (1, ?) "
            "ON CONFLICT(id) DO UPDATE SET checked_at = excluded.checked_at",
            (now,),
        )

    async def user_open_orders(self, user_id: int) -> list[Order]:
        marks = ", ".join("?" for _ in OPEN_STATUSES)
        rows = await self._all(
            f"SELECT * FROM orders WHERE user_id = ? AND status IN ({marks}) ORDER BY id",
            (user_id, *(s.value for s in OPEN_STATUSES)),
        )
        return [order_from_row(row) for row in rows]

    async def user_history(self, user_id: int, *, limit: int, offset: int) -> list[Order]:
        """Finished orders, newest first; failed purchases are left out (no number was had)."""
        marks = ", ".join("?" for _ in HISTORY_STATUSES)
        rows = await self._all(
            f"SELECT * FROM orders WHERE user_id = ? AND status IN ({marks}) "
            "ORDER BY id DESC LIMIT ? OFFSET ?",
            (user_id, *(s.value for s in HISTORY_STATUSES), limit, offset),
        )
        return [order_from_row(row) for row in rows]

    async def user_history_count(self, user_id: int) -> int:
        marks = ", ".join("?" for _ in HISTORY_STATUSES)
        row = await self._one(
            f"SELECT COUNT(*) FROM orders WHERE user_id = ? AND status IN ({marks})",
            (user_id, *(s.value for s in HISTORY_STATUSES)),
        )
        return int(row[0]) if row else 0

    async def recent_choices(self, user_id: int, column: str, limit: int) -> list[int]:
        """Countries or apps this person bought most recently, newest first."""
        if column not in ("country_id", "application_id"):
            raise ValueError(column)
        kept = self._recent.get(user_id, {}).get((column, limit))
        if kept is not None:
            return list(kept)
        rows = await self._all(
            f"SELECT {column} AS choice FROM orders WHERE user_id = ?"
            f" GROUP BY {column} ORDER BY MAX(id) DESC LIMIT ?",
            (user_id, limit),
        )
        choices: list[int] = [row["choice"] for row in rows]
        _keep(self._recent, user_id, self._recent.get(user_id, {}))[(column, limit)] = choices
        return list(choices)

    async def most_bought(self, column: str, since: float, limit: int) -> list[int]:
        """Countries or apps of the orders that got a number since `since`, most first."""
        if column not in ("country_id", "application_id"):
            raise ValueError(column)
        rows = await self._all(
            f"SELECT {column} AS choice FROM orders WHERE created_at >= ?"
            f" AND request_id IS NOT NULL GROUP BY {column}"
            " ORDER BY COUNT(*) DESC, MAX(id) DESC LIMIT ?",
            (since, limit),
        )
        return [row["choice"] for row in rows]

    # saved pairs

    async def saved_pairs(self, user_id: int) -> list[SavedPair]:
        """A person's saved pairs, oldest first."""
        kept = self._saved.get(user_id)
        if kept is None:
            rows = await self._all(
                "SELECT country_id, application_id, country_title, country_iso, app_title"
                " FROM saved_pairs WHERE user_id = ? ORDER BY saved_at, rowid",
                (user_id,),
            )
            kept = _keep(self._saved, user_id, [SavedPair(**dict(row)) for row in rows])
        return list(kept)

    async def save_pair(self, user_id: int, pair: SavedPair, now: float, limit: int) -> bool:
        """Keep a pair for a person, unless they have `limit` already; true when it is kept
        (saving one already kept changes nothing and is true)."""
        self._saved.pop(user_id, None)
        # One statement, so the count and the insert cannot be split by another write.
        changed, _row = await self._write(
            "INSERT INTO saved_pairs (user_id, country_id, application_id, country_title,"
            " country_iso, app_title, saved_at)"
            " SELECT ?, ?, ?, ?, ?, ?, ? WHERE (SELECT COUNT(*) FROM saved_pairs"
            " WHERE user_id = ?) < ? ON CONFLICT DO NOTHING",
            (
                user_id,
                pair.country_id,
                pair.application_id,
                pair.country_title,
                pair.country_iso,
                pair.app_title,
                now,
                user_id,
                limit,
            ),
        )
        self._saved.pop(user_id, None)
        if changed == 1:
            return True
        return any(
            (p.country_id, p.application_id) == (pair.country_id, pair.application_id)
            for p in await self.saved_pairs(user_id)
        )

    async def remove_pair(self, user_id: int, country_id: int, application_id: int) -> None:
        self._saved.pop(user_id, None)
        await self._write(
            "DELETE FROM saved_pairs WHERE user_id = ? AND country_id = ? AND application_id = ?",
            (user_id, country_id, application_id),
        )
        self._saved.pop(user_id, None)

    async def orders_since(self, user_id: int, since: float) -> list[Order]:
        rows = await self._all(
            "SELECT * FROM orders WHERE user_id = ? AND created_at >= ? ORDER BY id",
            (user_id, since),
        )
        return [order_from_row(row) for row in rows]

    async def all_orders(self) -> list[Order]:
        return [
            order_from_row(row) for row in await self._all("SELECT * FROM orders ORDER BY id", ())
        ]

    async def code_counts(self) -> dict[int, int]:
        rows = await self._all("SELECT order_id, COUNT(*) AS n FROM codes GROUP BY order_id", ())
        return {row["order_id"]: row["n"] for row in rows}

    # access

    async def access_override(self, user_id: int) -> bool | None:
        """An admin's explicit grant (True) or revocation (False); None when never set."""
        if user_id in self._access:
            return self._access[user_id]
        row = await self._one("SELECT allowed FROM access WHERE user_id = ?", (user_id,))
        return _keep(self._access, user_id, bool(row["allowed"]) if row else None)

    async def set_access(self, user_id: int, allowed: bool, actor_id: int, now: float) -> None:
        """Grant or revoke, and write it to the audit log in the same transaction."""
        self._access.pop(user_id, None)
        try:
            async with self._transaction():
                await self._run(
                    "INSERT INTO access (user_id, allowed, actor_id, changed_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET"
                    " allowed = excluded.allowed, actor_id = excluded.actor_id,"
                    " changed_at = excluded.changed_at",
                    (user_id, int(allowed), actor_id, now),
                )
                await self._run(
                    "INSERT INTO audit (actor_id, action, target_id, at) VALUES (?, ?, ?, ?)",
                    (actor_id, "allow" if allowed else "deny", user_id, now),
                )
        finally:
            # Reads queued behind the write see the new value; a read queued before it may
            # have kept the old one, and a rolled-back write must not stay in memory.
            self._access.pop(user_id, None)

    async def audit_log(self, limit: int) -> list[tuple[int, str, int | None, float]]:
        rows = await self._all(
            "SELECT actor_id, action, target_id, at FROM audit ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [(r["actor_id"], r["action"], r["target_id"], r["at"]) for r in rows]

    # codes

    async def record_code(
        self,
        order_id: int,
        code: str,
        now: float,
        *,
        expect: tuple[OrderStatus, ...],
        status: OrderStatus,
    ) -> Code | None:
        """Store a code the provider showed and move the order to `status`, in one transaction.

        Returns the stored code, or None when the order already had it (nothing changes then).
        """
        async with self._transaction():
            inserted, code_id = await self._run(
                "INSERT INTO codes (order_id, code, received_at) VALUES (?, ?, ?) "
                "ON CONFLICT(order_id, code) DO NOTHING",
                (order_id, code, now),
            )
            if not inserted:
                return None
            if not await self._set_order(order_id, expect, now, {"status": status}):
                # Rolls the code back too: the caller's step read a status that is gone.
                raise RuntimeError(f"order {order_id} left {expect} while a code came")
        return Code(int(code_id or 0), order_id, code, now, None, None)

    async def order_codes(self, order_id: int) -> list[Code]:
        rows = await self._all("SELECT * FROM codes WHERE order_id = ? ORDER BY id", (order_id,))
        return [code_from_row(row) for row in rows]

    async def undelivered_codes(self, order_id: int | None = None) -> list[Code]:
        """Codes not pushed yet, oldest first; of one order, if given."""
        if order_id is None:
            rows = await self._all("SELECT * FROM codes WHERE delivered_at IS NULL ORDER BY id", ())
        else:
            rows = await self._all(
                "SELECT * FROM codes WHERE delivered_at IS NULL AND order_id = ? ORDER BY id",
                (order_id,),
            )
        return [code_from_row(row) for row in rows]

    async def mark_code_delivered(self, code_id: int, now: float) -> None:
        """Telegram accepted the push of this code."""
        await self._write(
            "UPDATE codes SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL",
            (now, code_id),
        )

    async def give_up_code(self, code: Code, now: float, reason: str) -> None:
        """Telegram refused this code's chat for good: the code and its order say why."""
        async with self._transaction():
            await self._run(
                "UPDATE codes SET delivered_at = ?, delivery_error = ? "
                "WHERE id = ? AND delivered_at IS NULL",
                (now, reason, code.id),
            )
            await self._run(
                "UPDATE orders SET delivery_note = ?, updated_at = ? WHERE id = ?",
                (reason, now, code.order_id),
            )
