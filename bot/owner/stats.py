"""Figures for the owner: per person and in total, computed from the orders in Decimal."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from bot.orders.lifecycle import NO_NUMBER, OPEN_STATUSES, OrderStatus
from bot.orders.limits import charged, refunded
from bot.storage.database import Database
from bot.storage.records import LedgerKind, Order

# An open order whose deadline passed this long ago is stuck: its reject keeps failing.
STUCK_AFTER = 120.0
RECENT_FAILURES = 24 * 3600.0


@dataclass
class Figures:
    orders: int = 0
    with_code: int = 0
    charged: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    active: int = 0
    # Wallet mode: what people paid for the numbers they kept, and what those cost at SMS-man.
    revenue: Decimal = Decimal(0)
    provider_cost: Decimal = Decimal(0)

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.provider_cost

    @property
    def spend(self) -> Decimal:
        return self.charged - self.refunded

    @property
    def success_rate(self) -> float:
        return self.with_code / self.orders if self.orders else 0.0

    def add(self, order: Order, codes: int, *, kept: bool = False) -> None:
        if kept and order.paid is not None:
            # A held charge the owner kept: sold as far as anyone knows, so it counts.
            self.revenue += order.paid
            self.provider_cost += order.price
        if order.request_id is None:
            return
        self.orders += 1
        self.with_code += codes > 0
        self.charged += charged(order)
        self.refunded += refunded(order)
        self.active += order.status in OPEN_STATUSES
        if order.paid is not None and not refunded(order):
            self.revenue += order.paid
            self.provider_cost += charged(order)


@dataclass
class Stats:
    total: Figures = field(default_factory=Figures)
    users: dict[int, Figures] = field(default_factory=lambda: defaultdict(Figures))


async def collect(db: Database) -> Stats:
    stats = Stats()
    codes = await db.code_counts()
    kept = await db.keys(LedgerKind.HOLD_KEPT)
    for order in await db.all_orders():
        held = str(order.id) in kept
        stats.total.add(order, codes.get(order.id, 0), kept=held)
        stats.users[order.user_id].add(order, codes.get(order.id, 0), kept=held)
    return stats


@dataclass(frozen=True, slots=True)
class Troubled:
    """What /orders lists, oldest first, and which of them are charges on hold."""

    orders: list[Order]
    held: frozenset[int]


async def troubled(db: Database, now: float) -> Troubled:
    """Orders that need an owner's eye: stuck past their deadline, lately failed or lost, with
    a code Telegram would not take, or a wallet charge on hold (a LOST purchase that charged
    a wallet, not decided yet), however old."""
    decided = await db.keys(LedgerKind.REFUND) | await db.keys(LedgerKind.HOLD_KEPT)
    found, held = [], set()
    for order in await db.all_orders():
        charged = order.status is OrderStatus.LOST and order.paid is not None
        if charged and str(order.id) not in decided:
            found.append(order)
            held.add(order.id)
            continue
        stuck = order.is_open and order.deadline is not None and now > order.deadline + STUCK_AFTER
        recent = now - order.updated_at < RECENT_FAILURES
        failed = order.status in NO_NUMBER and recent
        if stuck or failed or (order.delivery_note is not None and recent):
            found.append(order)
    return Troubled(found, frozenset(held))
