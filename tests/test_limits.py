"""What counts against a person's daily limit, and what the owner's figures say was spent."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from bot.orders.lifecycle import OrderStatus
from bot.orders.limits import charged, committed, refunded
from bot.storage.records import Order

PRICE = Decimal("12.50")


def order(status: OrderStatus, request_id: int | None) -> Order:
    return Order(
        id=1,
        quote_id=1,
        user_id=1,
        chat_id=1,
        card_message_id=None,
        country_id=5,
        country_title="USA",
        country_iso="US",
        application_id=3,
        app_title="Telegram",
        number="15551234567" if request_id else None,
        price=PRICE,
        currency="RUB",
        request_id=request_id,
        status=status,
        failure=None,
        created_at=0.0,
        updated_at=0.0,
        deadline=None,
    )


def test_a_purchase_that_may_have_been_charged_counts_against_the_limit() -> None:
    assert committed([order(OrderStatus.PURCHASING, None)]) == PRICE
    assert committed([order(OrderStatus.LOST, None)]) == PRICE
    assert committed([order(OrderStatus.FAILED, None)]) == 0


def test_only_a_refund_the_provider_gave_takes_spend_back() -> None:
    closed = order(OrderStatus.CLOSED, 7)
    assert (charged(closed), refunded(closed)) == (PRICE, Decimal(0))
    for status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        assert refunded(replace(closed, status=status)) == PRICE
    lost = order(OrderStatus.LOST, None)
    assert (charged(lost), refunded(lost)) == (Decimal(0), Decimal(0)), (
        "the owner's figures claim nothing unknown"
    )
