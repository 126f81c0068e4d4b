"""Per-person purchase limits and spend figures, computed exactly in Decimal from the orders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from bot.orders.lifecycle import REFUNDED, OrderStatus
from bot.storage.records import Order


class Limit(StrEnum):
    ACTIVE_ORDERS = "active_orders"
    DAILY_SPEND = "daily_spend"
    MAX_PRICE = "max_price"
    # Numbers given back in the last hour (`bot.orders.cancels`).
    CANCELS = "cancels"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Which limit a purchase (or a give-back) would break; `resets_at` is when it frees up,
    if at a set time."""

    limit: Limit
    allowed: Decimal
    currency: str
    resets_at: float | None = None


def charged(order: Order) -> Decimal:
    """What the provider took for this order: its price once a number was issued."""
    return order.price if order.request_id is not None else Decimal(0)


def refunded(order: Order) -> Decimal:
    """Rejected, reported used, or gone without a code: the provider gave the money back."""
    return charged(order) if order.status in REFUNDED else Decimal(0)


def committed(orders: Iterable[Order]) -> Decimal:
    """Spend that counts against a limit: charges minus refunds, plus purchases under way and
    purchases whose answer was lost (they may have been charged)."""
    total = Decimal(0)
    for order in orders:
        if order.status in (OrderStatus.PURCHASING, OrderStatus.LOST):
            total += order.price
        else:
            total += charged(order) - refunded(order)
    return total


def day_start(now: float) -> float:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def next_day(now: float) -> float:
    return day_start(now) + timedelta(days=1).total_seconds()


def check(
    *,
    price: Decimal,
    open_orders: int,
    spent_today: Decimal,
    max_active: int,
    daily_limit: Decimal | None,
    max_price: Decimal | None,
    currency: str,
    now: float,
) -> Refusal | None:
    if max_price is not None and price > max_price:
        return Refusal(Limit.MAX_PRICE, max_price, currency)
    if open_orders >= max_active:
        return Refusal(Limit.ACTIVE_ORDERS, Decimal(max_active), currency)
    if daily_limit is not None and spent_today + price > daily_limit:
        return Refusal(Limit.DAILY_SPEND, daily_limit, currency, next_day(now))
    return None
