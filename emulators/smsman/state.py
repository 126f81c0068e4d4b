"""Pure in-memory model of an SMS-man account: balance, stock, requests and ledger."""

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from emulators.smsman import errors
from emulators.smsman.catalog import DEFAULT_CATALOG, Catalog, Offer


class Currency(StrEnum):
    """Currencies get-number accepts for maxPrice."""

    RUB = "RUB"
    USD = "USD"
    EUR = "EUR"


# Emulator choice: fixed rates, so tests can compute the RUB limit a maxPrice stands for.
RUB_PER_UNIT: Mapping[Currency, Decimal] = MappingProxyType(
    {Currency.RUB: Decimal(1), Currency.USD: Decimal(90), Currency.EUR: Decimal(100)}
)

STATUSES = ("ready", "close", "reject", "used")


class RequestStatus(StrEnum):
    """Where a request stands; the first three are active, the rest are final."""

    WAITING = "waiting"
    RECEIVED = "received"
    # Re-armed by `ready` after a code: get-sms waits again for a new SMS.
    WAITING_NEXT = "waiting_next"
    CLOSED = "closed"
    REJECTED = "rejected"
    USED = "used"
    EXPIRED = "expired"


_ACTIVE = frozenset({RequestStatus.WAITING, RequestStatus.RECEIVED, RequestStatus.WAITING_NEXT})


@dataclass
class ActivationRequest:
    """One rented number; `cost` is what was charged for it, in RUB."""

    request_id: int
    country_id: int
    application_id: int
    number: str
    cost: Decimal
    created_at: float
    expires_at: float
    has_multiple_sms: bool
    ref: str | None
    status: RequestStatus = RequestStatus.WAITING
    codes: list[str] = field(default_factory=list)
    # When each of `codes` arrived, on the state's clock.
    code_times: list[float] = field(default_factory=list)
    refunded: bool = False
    finished_at: float | None = None

    @property
    def active(self) -> bool:
        return self.status in _ACTIVE

    @property
    def sms_code(self) -> str | None:
        """The code get-sms shows now, if any."""
        return self.codes[-1] if self.status is RequestStatus.RECEIVED else None


class LedgerKind(StrEnum):
    CHARGE = "charge"
    REFUND = "refund"


@dataclass(frozen=True)
class LedgerEntry:
    """One movement of money caused by a request (balance overrides are not entries)."""

    kind: LedgerKind
    request_id: int
    amount: Decimal
    balance_after: Decimal
    time: float
    reason: str


class EmulatorState:
    """The account behind the emulator; every access first settles requests past their lifetime."""

    def __init__(
        self,
        *,
        balance: Decimal,
        lifetime: float,
        clock: Callable[[], float] = time.monotonic,
        catalog: Catalog = DEFAULT_CATALOG,
    ) -> None:
        if not (math.isfinite(lifetime) and lifetime > 0):
            raise ValueError(f"lifetime must be a positive number of seconds, not {lifetime!r}")
        _check_money("balance", balance)
        self._clock = clock
        self._lifetime = lifetime
        self._initial_balance = balance
        self._balance = balance
        self._catalog = catalog
        self._offers = dict(catalog.offers)
        self._requests: dict[int, ActivationRequest] = {}
        # No active request expires before this, so expire_due need not look at them all.
        self._next_expiry = math.inf
        self._ledger: list[LedgerEntry] = []
        self._first_request_id = 1

    def number_requests_from(self, first: int) -> None:
        """The next purchases get ids from `first` on (a test's way to reach ids of 25 digits,
        or an id the bot already knows)."""
        if first < 1:
            raise ValueError(f"request ids start from 1, not {first}")
        self._first_request_id = first

    def reset(self) -> None:
        """Back to the state right after construction."""
        self._balance = self._initial_balance
        self._offers = dict(self._catalog.offers)
        self._requests.clear()
        self._next_expiry = math.inf
        self._ledger.clear()
        self._first_request_id = 1

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @property
    def balance(self) -> Decimal:
        self.expire_due()
        return self._balance

    def set_balance(self, balance: Decimal) -> None:
        _check_money("balance", balance)
        # Settle first, so a refund that was already due is not added on top of the override.
        self.expire_due()
        self._balance = balance

    @property
    def requests(self) -> list[ActivationRequest]:
        self.expire_due()
        return list(self._requests.values())

    @property
    def ledger(self) -> list[LedgerEntry]:
        self.expire_due()
        return list(self._ledger)

    @property
    def spent(self) -> Decimal:
        """Charges minus refunds: what the requests cost in the end."""
        return sum(
            (e.amount if e.kind is LedgerKind.CHARGE else -e.amount for e in self.ledger),
            Decimal(0),
        )

    def offer(self, country_id: int, application_id: int) -> Offer | None:
        """The pair's current offer, or None when it is not offered at all."""
        return self._offers.get((country_id, application_id))

    def offers(
        self, country_id: int | None = None, application_id: int | None = None
    ) -> list[tuple[int, int, Offer]]:
        """Offered pairs matching the filters, sold-out ones included, ordered by ids."""
        return [
            (c, a, offer)
            for (c, a), offer in sorted(self._offers.items())
            if country_id in (None, c) and application_id in (None, a)
        ]

    def set_stock(
        self,
        country_id: int,
        application_id: int,
        count: int | None = None,
        cost: Decimal | None = None,
    ) -> Offer:
        """Change the count and/or cost of a pair; a pair not offered yet needs both."""
        catalog = self._catalog
        if country_id not in catalog.countries or application_id not in catalog.applications:
            raise ValueError(f"no country {country_id} or no application {application_id}")
        if count is not None and count < 0:
            raise ValueError(f"count must not be negative, not {count}")
        if cost is not None:
            _check_money("cost", cost)
            if cost < 0:
                raise ValueError(f"cost must not be negative, not {cost}")
        current = self._offers.get((country_id, application_id))
        if current is None:
            if count is None or cost is None:
                raise ValueError(f"pair ({country_id}, {application_id}) is not offered: give both")
            offer = Offer(cost, count)
        else:
            offer = Offer(
                current.cost if cost is None else cost, current.count if count is None else count
            )
        self._offers[country_id, application_id] = offer
        return offer

    def buy(
        self,
        country_id: int,
        application_id: int,
        *,
        max_price: Decimal | None = None,
        currency: Currency = Currency.RUB,
        has_multiple_sms: bool = False,
        ref: str | None = None,
    ) -> ActivationRequest:
        """Charge the balance and take a number out of stock, as get-number does."""
        self.expire_due()
        country = self._catalog.countries.get(country_id)
        if country is None:
            raise errors.wrong_country_id()
        if application_id not in self._catalog.applications:
            raise errors.wrong_application_id()
        offer = self._offers.get((country_id, application_id))
        if offer is None or offer.count <= 0:
            raise errors.no_numbers()
        # Emulator choice: like sms-activate-style providers, a price above maxPrice reads as
        # "no numbers at that price" rather than as an error of its own.
        if max_price is not None and offer.cost > max_price * RUB_PER_UNIT[currency]:
            raise errors.no_numbers()
        if self._balance < offer.cost:
            raise errors.low_balance()
        # Emulator choice: a refunded number does not go back into stock.
        self._offers[country_id, application_id] = Offer(offer.cost, offer.count - 1)
        now = self._clock()
        request_id = max(max(self._requests, default=0) + 1, self._first_request_id)
        request = ActivationRequest(
            request_id=request_id,
            country_id=country_id,
            application_id=application_id,
            number=country.phone_number(request_id),
            cost=offer.cost,
            created_at=now,
            expires_at=now + self._lifetime,
            has_multiple_sms=has_multiple_sms,
            ref=ref,
        )
        self._requests[request_id] = request
        self._next_expiry = min(self._next_expiry, request.expires_at)
        self._balance -= offer.cost
        self._ledger.append(
            LedgerEntry(LedgerKind.CHARGE, request_id, offer.cost, self._balance, now, "purchase")
        )
        return request

    def find(self, request_id: int) -> ActivationRequest | None:
        """Any request, finished ones included."""
        self.expire_due()
        return self._requests.get(request_id)

    def active_request(self, request_id: int) -> ActivationRequest:
        """The request get-sms and set-status may act on; finished ones do not exist for them."""
        request = self.find(request_id)
        if request is None or not request.active:
            raise errors.request_not_found()
        return request

    def set_status(self, request_id: int, status: str) -> ActivationRequest:
        # A repeated reject or close finds the request finished and answers "Current request
        # not exists", as SMS-man does for a request that is gone; that is the idempotency.
        request = self.active_request(request_id)
        has_code = bool(request.codes)
        match status:
            case "reject" | "used" if not has_code:
                final = RequestStatus.REJECTED if status == "reject" else RequestStatus.USED
                self._finish(request, final, self._clock())
            case "close" if has_code:
                self._finish(request, RequestStatus.CLOSED, self._clock())
            case "ready":
                # Before a code it only says "SMS sent" and changes nothing; after one it
                # asks for the next SMS.
                if request.status is RequestStatus.RECEIVED:
                    request.status = RequestStatus.WAITING_NEXT
            case _:
                raise errors.wrong_status()
        return request

    def deliver_sms(self, request_id: int, code: str) -> ActivationRequest:
        """An SMS arrives; raises ValueError when no active request could receive it."""
        if not code:
            raise ValueError("the code must not be empty")
        request = self.find(request_id)
        if request is None:
            raise ValueError(f"request {request_id} does not exist")
        if not request.active:
            raise ValueError(f"request {request_id} is already {request.status}")
        # Emulator choice: an SMS arriving while a code is still shown replaces it, so
        # get-sms always answers the newest code.
        request.codes.append(code)
        request.code_times.append(self._clock())
        request.status = RequestStatus.RECEIVED
        return request

    def expire_now(self, request_id: int) -> ActivationRequest:
        """The provider forgets an active request at once, as if its lifetime had just ended;
        raises ValueError when the request does not exist or is finished."""
        request = self.find(request_id)
        if request is None:
            raise ValueError(f"request {request_id} does not exist")
        if not request.active:
            raise ValueError(f"request {request_id} is already {request.status}")
        now = self._clock()
        request.expires_at = now
        self._finish(request, RequestStatus.EXPIRED, now)
        return request

    def expire_due(self) -> None:
        """Finish every active request whose lifetime is over."""
        now = self._clock()
        if now < self._next_expiry:
            return
        self._next_expiry = math.inf
        for request in self._requests.values():
            if not request.active:
                continue
            if now >= request.expires_at:
                self._finish(request, RequestStatus.EXPIRED, request.expires_at)
            else:
                self._next_expiry = min(self._next_expiry, request.expires_at)

    def _finish(self, request: ActivationRequest, status: RequestStatus, at: float) -> None:
        request.status = status
        request.finished_at = at
        # Only a request that never got a code is refunded: a received code was a service
        # delivered, whatever ends the request.
        if request.codes:
            return
        request.refunded = True
        self._balance += request.cost
        self._ledger.append(
            LedgerEntry(
                LedgerKind.REFUND, request.request_id, request.cost, self._balance, at, status.value
            )
        )


def _check_money(name: str, amount: Decimal) -> None:
    if not amount.is_finite():
        raise ValueError(f"{name} must be a finite amount, not {amount}")
