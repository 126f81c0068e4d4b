"""Typed results of the SMS-man control API; money is always `Decimal`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class RequestStatus(StrEnum):
    """Values of `set-status`: the four the provider accepts."""

    READY = "ready"
    CLOSE = "close"
    REJECT = "reject"
    USED = "used"


@dataclass(frozen=True, slots=True)
class Country:
    id: int
    title: str
    code: str


@dataclass(frozen=True, slots=True)
class Application:
    id: int
    title: str
    code: str


@dataclass(frozen=True, slots=True)
class Price:
    country_id: int
    application_id: int
    cost: Decimal
    count: int


@dataclass(frozen=True, slots=True)
class Limit:
    country_id: int
    application_id: int
    numbers: int


@dataclass(frozen=True, slots=True)
class PurchasedNumber:
    request_id: int
    country_id: int
    application_id: int
    number: str


@dataclass(frozen=True, slots=True)
class SmsResult:
    """One get-sms answer: `code` is None while the provider is still waiting for an SMS."""

    request_id: int
    code: str | None

    @property
    def waiting(self) -> bool:
        return self.code is None
