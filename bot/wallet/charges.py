"""What a wallet is charged for an order, and what the lifecycle gives back, and when."""

from __future__ import annotations

from decimal import Decimal

from bot.config import Settings
from bot.orders.lifecycle import REFUNDED, OrderStatus
from bot.storage.records import LedgerKind, Order
from bot.storage.wallets import Movement
from bot.wallet.pricing import selling_price


def price_to_person(settings: Settings, cost: Decimal) -> Decimal:
    """What a person pays for an offer of this provider cost: the selling price in wallet
    mode, the cost itself when the owner pays."""
    if not settings.wallet:
        return cost
    return selling_price(cost, settings.markup_percent, settings.markup_min)


def money_back(order: Order, status: OrderStatus) -> Movement | None:
    """The wallet credit that moving `order` to `status` brings, written with the move: all of
    it back when the attempt sold nothing (FAILED), or once SMS-man took the number back
    (CANCELLED, EXPIRED). A LOST order keeps its charge on hold for the owner to decide."""
    if order.paid is None or status is order.status:
        return None
    if status is OrderStatus.FAILED:
        kind = LedgerKind.REVERSAL
    elif status in REFUNDED:
        kind = LedgerKind.REFUND
    else:
        return None
    return Movement(order.user_id, kind, str(order.id), order.paid)
