"""What a person pays in wallet mode, and what a Star adds to a wallet; all in Decimal."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def selling_price(cost: Decimal, markup_percent: Decimal, markup_min: Decimal) -> Decimal:
    """The provider's cost × (1 + percent / 100), at least cost + min, rounded up to the cent."""
    marked = cost * (1 + markup_percent / HUNDRED)
    return max(marked, cost + markup_min).quantize(CENT, rounding=ROUND_CEILING)


def credit_for(stars: int, star_price: Decimal) -> Decimal:
    """What `stars` Stars add to a wallet, to the cent (never more than they are worth)."""
    return (star_price * stars).quantize(CENT, rounding="ROUND_FLOOR")
