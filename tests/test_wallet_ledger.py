"""The wallet ledger: keys used once, balances never below zero and always their ledger's sum."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bot.storage.database import Database
from bot.storage.records import LedgerKind
from bot.storage.schema import MIGRATIONS
from bot.storage.wallets import SETTLING, InsufficientFunds, Movement, attempt_key
from bot.wallet.pricing import credit_for, selling_price

T = TypeVar("T")
USERS = (1, 2)
KEYS = ("a", "b", "c")
AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("50"), places=2)


@pytest.mark.parametrize(
    ("cost", "percent", "minimum", "price"),
    [
        (Decimal("10.00"), Decimal(30), Decimal(5), Decimal("15.00")),  # the minimum wins
        (Decimal("100.00"), Decimal(30), Decimal(5), Decimal("130.00")),
        (Decimal("12.34"), Decimal("33.3"), Decimal("0"), Decimal("16.45")),  # 16.44922 up
        (Decimal("0.01"), Decimal(0), Decimal(0), Decimal("0.01")),
    ],
)
def test_the_selling_price_is_the_marked_up_cost_rounded_up(
    cost: Decimal, percent: Decimal, minimum: Decimal, price: Decimal
) -> None:
    assert selling_price(cost, percent, minimum) == price


def test_a_star_credits_its_price_never_more() -> None:
    assert credit_for(50, Decimal("1.3333")) == Decimal("66.66")
    assert credit_for(1000, Decimal("0.013")) == Decimal("13.00")


async def test_a_key_moves_money_once_and_never_below_zero(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        topup = Movement(1, LedgerKind.TOPUP, "charge-1", Decimal("65.00"), stars=50)
        first = await db.post(topup, now=1.0)
        assert first is not None
        assert (first.amount, first.stars, first.kind) == (Decimal("65.00"), 50, LedgerKind.TOPUP)
        assert await db.post(topup, now=2.0) is None, "a replayed payment credits nothing"
        with pytest.raises(InsufficientFunds):
            await db.post(Movement(1, LedgerKind.PURCHASE, "7", Decimal("-65.01")), now=3.0)
        assert await db.entry(LedgerKind.PURCHASE, "7") is None, "nothing of it was written"
        assert await db.post(Movement(1, LedgerKind.PURCHASE, "7", Decimal("-65.00")), now=3.0)
        assert await db.balance(1) == 0
        assert await db.post(Movement(1, LedgerKind.REVERSAL, "7", Decimal("65.00")), now=4.0)
        assert [e.kind for e in await db.ledger(1, 10)] == [
            LedgerKind.REVERSAL,
            LedgerKind.PURCHASE,
            LedgerKind.TOPUP,
        ]
    finally:
        await db.close()
    with sqlite3.connect(tmp_path / "db.sqlite3") as raw:
        assert raw.execute("SELECT balance FROM wallets WHERE user_id = 1").fetchone() == ("65.00",)


async def test_a_pending_stars_refund_is_kept_or_given_back_by_entries_of_its_own(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        await db.post(Movement(1, LedgerKind.TOPUP, "c1", Decimal("10")), now=1.0)
        pending = Movement(1, LedgerKind.STARS_REFUND, "c1", Decimal("-10"), pending=True)
        assert await db.post(pending, now=2.0)
        assert [e.key for e in await db.pending(LedgerKind.STARS_REFUND)] == ["c1"]
        assert await db.balance(1) == 0, "a pending refund already counts"
        assert await db.settle_pending(LedgerKind.STARS_REFUND, "c1", 3.0, confirmed=False)
        assert not await db.settle_pending(LedgerKind.STARS_REFUND, "c1", 3.0, confirmed=True)
        assert await db.balance(1) == 10
        assert await db.post(pending, now=4.0) is None, "the refused attempt keeps its key"
        again = Movement(
            1, LedgerKind.STARS_REFUND, attempt_key("c1", 2), Decimal("-10"), pending=True
        )
        assert await db.post(again, now=4.0)
        assert await db.settle_pending(LedgerKind.STARS_REFUND, "c1 2", 5.0, confirmed=True)
        assert await db.pending(LedgerKind.STARS_REFUND) == []
        assert await db.balance(1) == 0
        assert [(e.kind, e.key, int(e.amount), e.pending) for e in await db.ledger(1, 10)] == [
            (LedgerKind.STARS_REFUND_DONE, "c1 2", 0, False),
            (LedgerKind.STARS_REFUND, "c1 2", -10, False),
            (LedgerKind.STARS_REFUND_UNDONE, "c1", 10, False),
            (LedgerKind.STARS_REFUND, "c1", -10, False),
            (LedgerKind.TOPUP, "c1", 10, False),
        ]
        assert [e.key for e in await db.attempts(LedgerKind.STARS_REFUND, "c1")] == ["c1", "c1 2"]
    finally:
        await db.close()


async def test_the_ledger_refuses_a_change_or_a_removal(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = await Database.open(path)
    try:
        await db.post(Movement(1, LedgerKind.TOPUP, "c1", Decimal("10")), now=1.0)
    finally:
        await db.close()
    with sqlite3.connect(path) as raw:
        for statement in ("UPDATE ledger SET amount = '1000'", "DELETE FROM ledger"):
            with pytest.raises(sqlite3.IntegrityError, match="the ledger is append-only"):
                raw.execute(statement)
        assert raw.execute("SELECT kind, key, amount FROM ledger").fetchall() == [
            ("topup", "c1", "10")
        ]


async def test_stars_refunds_the_last_version_left_mean_what_they_meant(tmp_path: Path) -> None:
    """The version before v8 confirmed a Stars refund by clearing `pending` and undid one by
    deleting its row: a cleared row is a refund done, a row still pending is still pending."""
    path = tmp_path / "v7.sqlite3"
    with sqlite3.connect(path) as raw:
        for number, script in enumerate(MIGRATIONS[:7], start=1):
            raw.executescript(f"{script}\nPRAGMA user_version = {number};")
        raw.executemany(
            "INSERT INTO ledger (user_id, kind, key, amount, stars, pending, created_at)"
            " VALUES (1, ?, ?, ?, 50, ?, 1.0)",
            [
                ("topup", "done", "65.00", 0),
                ("topup", "asked", "65.00", 0),
                ("stars_refund", "done", "-65.00", 0),
                ("stars_refund", "asked", "-65.00", 1),
            ],
        )
        raw.execute("INSERT INTO wallets (user_id, balance) VALUES (1, '0.00')")
    db = await Database.open(path)
    try:
        assert await db.schema_version() == len(MIGRATIONS)
        assert [e.key for e in await db.pending(LedgerKind.STARS_REFUND)] == ["asked"]
        done = await db.entry(LedgerKind.STARS_REFUND, "done")
        assert done is not None
        assert not done.pending
        assert await db.settle_pending(LedgerKind.STARS_REFUND, "asked", 2.0, confirmed=False)
        assert not await db.settle_pending(LedgerKind.STARS_REFUND, "done", 2.0, confirmed=False)
        assert await db.balance(1) == Decimal("65.00")
    finally:
        await db.close()


class LedgerModel(RuleBasedStateMachine):
    """Movements of every kind, one at a time and several at once, against a plain model."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.db = self.run(Database.open(":memory:"))
        self.used: dict[tuple[LedgerKind, str], Decimal] = {}
        self.balances = dict.fromkeys(USERS, Decimal(0))
        self.now = 0.0
        # Stars refunds written pending, by key; and every row as first seen, by id.
        self.written_pending: dict[str, Movement] = {}
        self.rows: dict[int, tuple[Any, ...]] = {}

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def expect(self, movement: Movement) -> str:
        """What the ledger must do with a movement, given what the model holds."""
        if (movement.kind, movement.key) in self.used:
            return "ignored"
        if self.balances[movement.user_id] + movement.amount < 0:
            return "refused"
        return "written"

    def apply(self, movement: Movement) -> None:
        self.used[movement.kind, movement.key] = movement.amount
        self.balances[movement.user_id] += movement.amount

    async def attempt(self, movement: Movement) -> str:
        self.now += 1
        try:
            written = await self.db.post(movement, self.now)
        except InsufficientFunds:
            return "refused"
        return "ignored" if written is None else "written"

    @rule(
        user=st.sampled_from(USERS),
        kind=st.sampled_from(LedgerKind),
        key=st.sampled_from(KEYS),
        amount=AMOUNTS,
        credit=st.booleans(),
    )
    def one(self, user: int, kind: LedgerKind, key: str, amount: Decimal, credit: bool) -> None:
        movement = Movement(user, kind, key, amount if credit else -amount)
        expected = self.expect(movement)
        assert self.run(self.attempt(movement)) == expected
        if expected == "written":
            self.apply(movement)

    @rule(
        user=st.sampled_from(USERS),
        key=st.sampled_from(KEYS),
        amounts=st.lists(AMOUNTS, min_size=2, max_size=4),
    )
    def purchases_at_once(self, user: int, key: str, amounts: list[Decimal]) -> None:
        """Taps at once: distinct purchases racing for one balance, each taken or refused."""
        movements = [
            Movement(user, LedgerKind.PURCHASE, f"{key}{n}", -amount)
            for n, amount in enumerate(amounts)
        ]

        async def race() -> list[str]:
            return list(await asyncio.gather(*(self.attempt(m) for m in movements)))

        outcomes = self.run(race())
        # Whatever order they ran in, each outcome is what the model says at its turn.
        for movement, outcome in zip(movements, outcomes, strict=True):
            if outcome == "written":
                assert self.expect(movement) == "written"
                self.apply(movement)
            else:
                assert outcome in ("ignored", "refused")
                assert self.expect(movement) != "written" or outcome == "refused"

    def pending(self, key: str) -> bool:
        settled = ((kind, key) in self.used for kind in SETTLING[LedgerKind.STARS_REFUND])
        return key in self.written_pending and not any(settled)

    @rule(user=st.sampled_from(USERS), key=st.sampled_from(KEYS), amount=AMOUNTS)
    def a_pending_stars_refund(self, user: int, key: str, amount: Decimal) -> None:
        movement = Movement(user, LedgerKind.STARS_REFUND, key, -amount, pending=True)
        expected = self.expect(movement)
        assert self.run(self.attempt(movement)) == expected
        if expected == "written":
            self.apply(movement)
            self.written_pending[key] = movement

    @rule(key=st.sampled_from(KEYS), confirmed=st.booleans())
    def telegram_answers(self, key: str, confirmed: bool) -> None:
        """A pending refund settled by an entry of its own: kept, or its debit given back."""
        expected = self.pending(key)
        self.now += 1
        refund = LedgerKind.STARS_REFUND
        settled = self.run(self.db.settle_pending(refund, key, self.now, confirmed=confirmed))
        assert settled == expected
        if settled:
            debit = self.written_pending[key]
            done, undone = SETTLING[refund]
            answer = Movement(debit.user_id, undone, key, -debit.amount)
            self.apply(Movement(debit.user_id, done, key, Decimal(0)) if confirmed else answer)

    @invariant()
    def rows_never_change(self) -> None:
        entries = [e for user in USERS for e in self.run(self.db.ledger(user, 1000))]
        for entry in entries:
            row = (entry.user_id, entry.kind, entry.key, entry.amount, entry.created_at)
            assert self.rows.setdefault(entry.id, row) == row, entry
        assert len(entries) == len(self.rows), "a row disappeared"
        still = {e.key for e in self.run(self.db.pending(LedgerKind.STARS_REFUND))}
        assert still == {key for key in self.written_pending if self.pending(key)}

    @invariant()
    def balances_are_their_ledgers(self) -> None:
        for user in USERS:
            entries = self.run(self.db.ledger(user, 1000))
            total = sum((e.amount for e in entries), Decimal(0))
            balance = self.run(self.db.balance(user))
            assert balance == total == self.balances[user]
            assert balance >= 0
        keys = [(e.kind, e.key) for user in USERS for e in self.run(self.db.ledger(user, 1000))]
        assert len(keys) == len(set(keys)) == len(self.used)

    def teardown(self) -> None:
        self.run(self.db.close())
        self.loop.close()


LedgerModel.TestCase.settings = settings(max_examples=60, stateful_step_count=20, deadline=None)
test_the_ledger_keeps_its_promises = LedgerModel.TestCase


async def test_a_database_of_the_ledgers_first_version_gains_what_orders_paid(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v4.sqlite3"
    with sqlite3.connect(path) as raw:
        for number, script in enumerate(MIGRATIONS[:4], start=1):
            raw.executescript(f"{script}\nPRAGMA user_version = {number};")
    db = await Database.open(path)
    try:
        assert await db.schema_version() == len(MIGRATIONS)
    finally:
        await db.close()
    with sqlite3.connect(path) as raw:
        columns = {row[1] for row in raw.execute("PRAGMA table_info(orders)")}
    assert "paid" in columns
