"""Money for people: two decimals and the currency's sign; values stay `Decimal` throughout."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€"}
CENT = Decimal("0.01")


def format_money(amount: Decimal, currency: str) -> str:
    shown = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return f"{shown} {SIGNS.get(currency, currency)}"
