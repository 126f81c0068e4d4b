"""Wallets as an append-only ledger: every movement keyed once, the balance never below zero."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.storage.records import LedgerEntry, LedgerKind, ledger_entry_from_row

if TYPE_CHECKING:
    import aiosqlite

# What settles a movement written pending: the entry saying it happened, and the one undoing
# it; each keyed like the pending entry. Only Stars refunds are written pending.
SETTLING = {
    LedgerKind.STARS_REFUND: (LedgerKind.STARS_REFUND_DONE, LedgerKind.STARS_REFUND_UNDONE),
}
_SETTLING_KINDS = ", ".join(f"'{kind.value}'" for pair in SETTLING.values() for kind in pair)
# Every entry, with `pending` as it stands now: written pending and not settled since. The
# rows themselves never change (schema v8 refuses it): what happened later is a later row.
ENTRIES = (
    "SELECT * FROM (SELECT id, user_id, kind, key, amount, stars, actor_id, reason, created_at,"
    " pending AND NOT EXISTS (SELECT 1 FROM ledger AS later WHERE later.key = ledger.key"
    f" AND later.kind IN ({_SETTLING_KINDS})) AS pending FROM ledger)"
)
# A later attempt at something keyed once (a Stars refund after one Telegram refused) is keyed
# "key 2", "key 3", …: Telegram's charge ids hold no space.
ATTEMPT_SEPARATOR = " "


def attempt_key(key: str, attempt: int) -> str:
    """The key of the `attempt`-th try (from 1) of what `key` names."""
    return key if attempt == 1 else f"{key}{ATTEMPT_SEPARATOR}{attempt}"


def attempted(key: str) -> str:
    """What an attempt's key names: `attempted(attempt_key(k, n)) == k`."""
    return key.split(ATTEMPT_SEPARATOR, 1)[0]


class InsufficientFunds(Exception):
    """The movement would take a wallet below zero; nothing was written."""

    def __init__(self, balance: Decimal, amount: Decimal) -> None:
        super().__init__(f"balance {balance} cannot take {amount}")
        self.balance = balance
        self.amount = amount


@dataclass(frozen=True, slots=True)
class Movement:
    """A ledger entry to write: `amount` is signed, `key` unique within its kind."""

    user_id: int
    kind: LedgerKind
    key: str
    amount: Decimal
    stars: int | None = None
    pending: bool = False
    actor_id: int | None = None
    reason: str | None = None


class WalletQueries:
    """The ledger's statements, run on the database's one connection and its write lock.

    `wallets.balance` is the sum of the person's ledger, kept in the same transaction as every
    entry so a purchase's check and its charge cannot be split; the ledger is the truth, the
    balance its running total (the model test compares the two after every step).
    """

    if TYPE_CHECKING:

        async def _all(self, sql: str, params: tuple[Any, ...]) -> list[aiosqlite.Row]: ...

        async def _run(self, sql: str, params: tuple[Any, ...]) -> tuple[int, int | None]: ...

        def _transaction(self) -> AbstractAsyncContextManager[None]: ...

    async def balance(self, user_id: int) -> Decimal:
        rows = await self._all("SELECT balance FROM wallets WHERE user_id = ?", (user_id,))
        return Decimal(rows[0]["balance"]) if rows else Decimal(0)

    async def ledger(self, user_id: int, limit: int) -> list[LedgerEntry]:
        """A person's latest movements, newest first."""
        rows = await self._all(
            f"{ENTRIES} WHERE user_id = ? ORDER BY id DESC LIMIT ?", (user_id, limit)
        )
        return [ledger_entry_from_row(row) for row in rows]

    async def entry(self, kind: LedgerKind, key: str) -> LedgerEntry | None:
        rows = await self._all(f"{ENTRIES} WHERE kind = ? AND key = ?", (kind, key))
        return ledger_entry_from_row(rows[0]) if rows else None

    async def attempts(self, kind: LedgerKind, key: str) -> list[LedgerEntry]:
        """Every attempt at what `key` names (see `attempt_key`), first first."""
        rows = await self._all(
            f"{ENTRIES} WHERE kind = ? AND (key = ? OR substr(key, 1, length(?) + 1) = ? || ?)"
            " ORDER BY id",
            (kind, key, key, key, ATTEMPT_SEPARATOR),
        )
        entries = [ledger_entry_from_row(row) for row in rows]
        return [e for e in entries if attempted(e.key) == key]

    async def post(self, movement: Movement, now: float) -> LedgerEntry | None:
        """Write a movement once: None when its key was used already (nothing changes);
        InsufficientFunds when it would take the balance below zero."""
        async with self._transaction():
            written = await self._post(movement, now)
        return await self.entry(movement.kind, movement.key) if written else None

    async def settle_pending(
        self, kind: LedgerKind, key: str, now: float, *, confirmed: bool
    ) -> bool:
        """A pending movement kept (it happened) or given back (it did not), once: an entry
        of its own says which; false when it was not pending."""
        async with self._transaction():
            rows = await self._all(f"{ENTRIES} WHERE kind = ? AND key = ?", (kind, key))
            entry = ledger_entry_from_row(rows[0]) if rows else None
            if entry is None or not entry.pending:
                return False
            done, undone = SETTLING[kind]
            settled = (
                Movement(entry.user_id, done, key, Decimal(0))
                if confirmed
                else Movement(entry.user_id, undone, key, -entry.amount)
            )
            return await self._post(settled, now)

    async def decide(self, movement: Movement, rivals: tuple[LedgerKind, ...], now: float) -> bool:
        """Write a movement unless one of `rivals` (or its own kind) holds its key already: of
        two decisions on one thing, only the first is written."""
        async with self._transaction():
            for kind in (movement.kind, *rivals):
                taken = await self._all(
                    "SELECT 1 FROM ledger WHERE kind = ? AND key = ?", (kind.value, movement.key)
                )
                if taken:
                    return False
            return await self._post(movement, now)

    async def hold_decision(self, order_id: int) -> LedgerKind | None:
        """What the owner decided of an order's held charge: REFUND (given back), HOLD_KEPT,
        or None while nobody has."""
        kinds = (LedgerKind.REFUND.value, LedgerKind.HOLD_KEPT.value)
        rows = await self._all(
            "SELECT kind FROM ledger WHERE kind IN (?, ?) AND key = ?", (*kinds, str(order_id))
        )
        return LedgerKind(rows[0]["kind"]) if rows else None

    async def keys(self, kind: LedgerKind) -> set[str]:
        rows = await self._all("SELECT key FROM ledger WHERE kind = ?", (kind.value,))
        return {row["key"] for row in rows}

    async def pending(self, kind: LedgerKind) -> list[LedgerEntry]:
        """Movements written pending and not settled since, oldest first."""
        rows = await self._all(f"{ENTRIES} WHERE kind = ? AND pending ORDER BY id", (kind,))
        return [ledger_entry_from_row(row) for row in rows]

    async def _post(self, movement: Movement, now: float) -> bool:
        """Inside a transaction: the entry and the balance, or nothing."""
        changed, _row = await self._run(
            "INSERT INTO ledger (user_id, kind, key, amount, stars, pending, actor_id, reason,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                movement.user_id,
                movement.kind.value,
                movement.key,
                str(movement.amount),
                movement.stars,
                int(movement.pending),
                movement.actor_id,
                movement.reason,
                now,
            ),
        )
        if changed != 1:
            return False
        await self._add_to_balance(movement.user_id, movement.amount)
        return True

    async def _add_to_balance(self, user_id: int, amount: Decimal) -> None:
        rows = await self._all("SELECT balance FROM wallets WHERE user_id = ?", (user_id,))
        balance = Decimal(rows[0]["balance"]) if rows else Decimal(0)
        if balance + amount < 0:
            # Raised inside the transaction, which rolls the entry back with it.
            raise InsufficientFunds(balance, -amount)
        await self._run(
            "INSERT INTO wallets (user_id, balance) VALUES (?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET balance = excluded.balance",
            (user_id, str(balance + amount)),
        )
