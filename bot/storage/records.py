"""What the store holds, as frozen records read from its rows: people, quotes, orders, codes."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bot.orders.lifecycle import OPEN_STATUSES, OrderStatus


@dataclass(frozen=True, slots=True)
class User:
    id: int
    language: str | None
    first_seen: float
    screen: str | None
    menu_message_id: int | None


@dataclass(frozen=True, slots=True)
class Quote:
    """A price shown to one person for one country and app; Buy refers to it by id."""

    id: int
    user_id: int
    country_id: int
    country_title: str
    country_iso: str | None
    application_id: int
    app_title: str
    price: Decimal
    currency: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    quote_id: int
    user_id: int
    chat_id: int
    card_message_id: int | None
    country_id: int
    country_title: str
    country_iso: str | None
    application_id: int
    app_title: str
    number: str | None
    price: Decimal
    currency: str
    request_id: int | None
    status: OrderStatus
    failure: str | None
    created_at: float
    updated_at: float
    deadline: float | None
    # The failed or lost order this one tries again; each is tried again at most once.
    retry_of: int | None = None
    # Why a code of this order could not be pushed (Telegram refused the chat for good).
    delivery_note: str | None = None
    # What the person paid from their wallet (wallet mode); None when the owner paid.
    paid: Decimal | None = None

    @property
    def charged(self) -> Decimal:
        """What this order costs the person who bought it: paid, or the provider's price."""
        return self.price if self.paid is None else self.paid

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class Code:
    id: int
    order_id: int
    code: str
    received_at: float
    delivered_at: float | None
    delivery_error: str | None


@dataclass(frozen=True, slots=True)
class SavedPair:
    """A country and app a person keeps for one-tap access from the main menu."""

    country_id: int
    application_id: int
    country_title: str
    country_iso: str | None
    app_title: str


class LedgerKind(StrEnum):
    """Why a wallet's balance moved; each kind's key is used at most once."""

    # + keyed by Telegram's telegram_payment_charge_id
    TOPUP = "topup"
    # − keyed by the order row of the purchase attempt
    PURCHASE = "purchase"
    # + the same key, when that attempt definitely sold nothing
    REVERSAL = "reversal"
    # + keyed by the order, once SMS-man took the number back
    REFUND = "refund"
    # ± an admin's correction, keyed by its own id, with the admin and a reason
    ADJUSTMENT = "adjustment"
    # − keyed by the charge id of the top-up whose Stars go back (a later attempt after one
    # Telegram refused: "charge-id 2", …); written pending, before Telegram is asked
    STARS_REFUND = "stars_refund"
    # 0 keyed like the pending Stars refund it settles: Telegram returned the Stars
    STARS_REFUND_DONE = "stars_refund_done"
    # + keyed like the pending Stars refund it settles: Telegram refused, the debit comes back
    STARS_REFUND_UNDONE = "stars_refund_undone"
    # 0 keyed by the order: the owner kept a charge SMS-man left unknown (a refund gives it back)
    HOLD_KEPT = "hold_kept"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    user_id: int
    kind: LedgerKind
    key: str
    amount: Decimal
    stars: int | None
    # A Stars refund written before Telegram is asked and not settled since (no entry says
    # what Telegram answered): it counts, and a later entry gives it back if Telegram refused.
    pending: bool
    actor_id: int | None
    reason: str | None
    created_at: float


def ledger_entry_from_row(row: sqlite3.Row) -> LedgerEntry:
    values = dict(row)
    values["kind"] = LedgerKind(values["kind"])
    values["amount"] = Decimal(values["amount"])
    values["pending"] = bool(values["pending"])
    return LedgerEntry(**values)


def order_from_row(row: sqlite3.Row) -> Order:
    """An order as read from its row (aiosqlite's rows are sqlite3's)."""
    values = dict(row)
    values["price"] = Decimal(values["price"])
    values["status"] = OrderStatus(values["status"])
    values["paid"] = None if values["paid"] is None else Decimal(values["paid"])
    return Order(**values)


def quote_from_row(row: sqlite3.Row) -> Quote:
    values = dict(row)
    values["price"] = Decimal(values["price"])
    return Quote(**values)


def user_from_row(row: sqlite3.Row) -> User:
    return User(**dict(row))


def code_from_row(row: sqlite3.Row) -> Code:
    return Code(**dict(row))
