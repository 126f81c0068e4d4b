"""Tolerant decoding of SMS-man JSON: ids as ints or strings, `[]` for `{}`, both envelopes."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Generic, TypeVar

from bot.smsman.errors import (
    LowBalance,
    NoNumbers,
    ProviderUnavailable,
    RequestNotFound,
    SmsManError,
    WrongStatus,
    WrongToken,
)
from bot.smsman.models import Application, Country, Limit, Price, PurchasedNumber

# Codes seen in the official wrappers first, then spellings third-party clients report.
_ERRORS: dict[str, type[SmsManError]] = {
    "wrong_token": WrongToken,
    "no_numbers": NoNumbers,
    "no_free_phones": NoNumbers,
    "balance": LowBalance,
    "blance": LowBalance,
    "no_balance": LowBalance,
    "not_enough_balance": LowBalance,
    "wrong_request_id": RequestNotFound,
    "wrong_status": WrongStatus,
}
WAIT_CODES = frozenset({"wait_sms", "no_sms"})
_NOT_EXISTS = "not exist"

log = logging.getLogger(__name__)
T = TypeVar("T")

# Ids are what our buttons carry (keyboards/callbacks.py `Id`) and sqlite's INTEGER holds.
ID_LIMIT = 2**63
_DIGITS = len(str(ID_LIMIT))
# A billion in the account's currency: no price, balance or stock comes near it, and every
# amount below it is shown, marked up and summed well within Decimal's 28 digits.
MAX_AMOUNT = Decimal(10**9)
MAX_COUNT = 10**9
_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_MONEY_CHARS = 40
_SHOWN = 40


def malformed(endpoint: str, why: str) -> ProviderUnavailable:
    return ProviderUnavailable(f"SMS-man {endpoint}: malformed answer ({why})")


def error_text(raw: Any) -> str:
    """`error_msg` is a string on some endpoints and an object keyed by field on others."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, Mapping):
        return "; ".join(error_text(v) for v in raw.values())
    if isinstance(raw, list):
        return "; ".join(error_text(v) for v in raw)
    return str(raw)


def error_for(endpoint: str, body: Mapping[str, Any]) -> SmsManError:
    code = str(body.get("error_code") or "")
    text = error_text(body.get("error_msg")) or code or "unknown error"
    kind = _ERRORS.get(code.lower())
    if kind is None and _NOT_EXISTS in text.lower():
        kind = RequestNotFound
    return (kind or SmsManError)(f"SMS-man {endpoint}: {text}", code=code or None)


def is_waiting(body: Any) -> bool:
    """get-sms's answer while no SMS came: an error code, but the normal state."""
    return isinstance(body, Mapping) and str(body.get("error_code") or "").lower() in WAIT_CODES


def is_error(body: Any) -> bool:
    return isinstance(body, Mapping) and (
        bool(body.get("error_code")) or body.get("success") is False
    )


def as_int(endpoint: str, value: Any, field: str, *, low: int, high: int) -> int:
    """An int, or a string of ASCII digits, within [low, high): '²' and '٣' are digits to
    str.isdigit, not to us, and a 5,000-digit string is refused before int() would be."""
    if isinstance(value, bool):
        raise malformed(endpoint, f"{field} is a boolean")
    if isinstance(value, str):
        text = value.strip()
        digits = text.removeprefix("-")
        if digits.isascii() and digits.isdigit() and len(digits.lstrip("0")) <= _DIGITS:
            value = int(text)
    if isinstance(value, int) and low <= value < high:
        return value
    raise malformed(endpoint, f"{field}={_shown(value)} is not an integer in [{low}, {high})")


def as_id(endpoint: str, value: Any, field: str) -> int:
    """A country, app or request id: what our buttons and sqlite can carry."""
    return as_int(endpoint, value, field, low=1, high=ID_LIMIT)


def as_count(endpoint: str, value: Any, field: str) -> int:
    if value is None or value == "":
        return 0
    return as_int(endpoint, value, field, low=0, high=MAX_COUNT + 1)


def as_money(endpoint: str, value: Any, field: str) -> Decimal:
    """A plain decimal in ASCII (12, 12.5, "12.50") from 0 to MAX_AMOUNT: not "1e30", "NaN",
    "-1" or "²", which would not format or would not be a price."""
    if value is None:
        raise malformed(endpoint, f"{field} is missing")
    # str() first so a JSON float such as 12.5 becomes Decimal("12.5"), not its binary value.
    text = str(value).strip() if isinstance(value, str | int | float) else ""
    if isinstance(value, bool) or len(text) > _MONEY_CHARS or not _PLAIN_DECIMAL.fullmatch(text):
        raise malformed(endpoint, f"{field}={_shown(value)} is not an amount")
    money = Decimal(text)
    if money > MAX_AMOUNT:
        raise malformed(endpoint, f"{field}={_shown(value)} is past {MAX_AMOUNT}")
    return money


def _shown(value: Any) -> str:
    """A value for a log line: the start of it."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def items_of(endpoint: str, body: Any) -> Iterable[tuple[str, Any]]:
    """Map-shaped catalogs arrive as `{"id": {...}}`, as `[]` when empty, or as lists."""
    if isinstance(body, Mapping):
        return ((str(k), v) for k, v in body.items())
    if isinstance(body, list):
        return ((str(i), v) for i, v in enumerate(body))
    raise malformed(endpoint, f"expected an object or a list, got {type(body).__name__}")


class _Entries(Generic[T]):
    """The entries of one catalog answer: the ones we can show are kept, the others dropped
    and told in one log line for the answer. An answer with entries and none usable is
    malformed as a whole (the last good copy is better than an empty list)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.kept: list[T] = []
        self._dropped = 0
        self._first = ""

    def add(self, make: Callable[..., T], *args: Any) -> None:
        try:
            self.kept.append(make(*args))
        except ProviderUnavailable as exc:
            self._dropped += 1
            self._first = self._first or exc.message

    def result(self) -> list[T]:
        if self._dropped and not self.kept:
            raise malformed(self.endpoint, f"no usable entry ({self._first})")
        if self._dropped:
            log.warning(
                "SMS-man %s: dropped %d of %d entries our buttons or screens cannot carry "
                "(the first: %s)",
                self.endpoint,
                self._dropped,
                self._dropped + len(self.kept),
                self._first,
            )
        return self.kept


def _named(endpoint: str, key: str, item: Any) -> tuple[int, str, str]:
    if not isinstance(item, Mapping):
        raise malformed(endpoint, f"entry {key} is not an object")
    ident = as_id(endpoint, item.get("id", key), "id")
    title = item.get("title") or item.get("name")
    if not isinstance(title, str) or not title.strip():
        raise malformed(endpoint, f"entry {key} has no title")
    code = item.get("code")
    return ident, title.strip(), code.strip() if isinstance(code, str) else ""


def countries(body: Any) -> list[Country]:
    entries = _Entries[Country]("countries")
    for key, value in items_of("countries", body):
        entries.add(lambda *named: Country(*_named(*named)), "countries", key, value)
    return entries.result()


def applications(body: Any) -> list[Application]:
    entries = _Entries[Application]("applications")
    for key, value in items_of("applications", body):
        entries.add(lambda *named: Application(*_named(*named)), "applications", key, value)
    return entries.result()


def _price(endpoint: str, country_id: Any, app_key: str, item: Any) -> Price:
    if not isinstance(item, Mapping):
        raise malformed(endpoint, f"price {app_key} is not an object")
    return Price(
        country_id=as_id(endpoint, item.get("country_id", country_id), "country_id"),
        application_id=as_id(endpoint, item.get("application_id", app_key), "application_id"),
        cost=as_money(endpoint, item.get("cost"), "cost"),
        count=as_count(endpoint, item.get("count", item.get("numbers")), "count"),
    )


def _is_price_item(item: Any) -> bool:
    return isinstance(item, Mapping) and "cost" in item


def prices(body: Any, country_id: int | None) -> list[Price]:
    """Flat `{app: {...}}` when asked for one country, nested `{country: {app: {...}}}` otherwise.

    The shape is recognised from the data rather than from the request, so either answer works.
    """
    endpoint = "get-prices"
    entries = _Entries[Price](endpoint)
    for key, value in items_of(endpoint, body):
        if _is_price_item(value) or not isinstance(value, Mapping | list):
            # A flat entry; without a country of its own or asked for, it is malformed.
            entries.add(_price, endpoint, country_id, key, value)
            continue
        for app_key, item in items_of(endpoint, value):
            entries.add(_price, endpoint, key, app_key, item)
    return entries.result()


def limits(body: Any) -> list[Limit]:
    """A documented list of rows, or a map keyed by country (then by app) in newer answers."""
    endpoint = "limits"
    entries = _Entries[Limit](endpoint)

    def limit(row: Any, country: Any, app: Any) -> Limit:
        if not isinstance(row, Mapping):
            raise malformed(endpoint, f"entry {country}/{app} is not an object")
        return Limit(
            country_id=as_id(endpoint, row.get("country_id", country), "country_id"),
            application_id=as_id(endpoint, row.get("application_id", app), "application_id"),
            numbers=as_count(endpoint, row.get("numbers", row.get("count")), "numbers"),
        )

    for key, value in items_of(endpoint, body):
        if not isinstance(value, Mapping) or "numbers" in value or "count" in value:
            entries.add(limit, value, key, None)
            continue
        for app_key, row in items_of(endpoint, value):
            entries.add(limit, row, key, app_key)
    return entries.result()


def purchased(body: Any, country_id: int, application_id: int) -> PurchasedNumber:
    endpoint = "get-number"
    if not isinstance(body, Mapping):
        raise malformed(endpoint, "not an object")
    number = body.get("number")
    digits = str(number).strip().lstrip("+") if isinstance(number, str | int) else ""
    if not digits.isdigit():
        raise malformed(endpoint, "no phone number")
    return PurchasedNumber(
        # Sold, but by an id the store cannot keep, is as good as an answer we could not read.
        request_id=as_id(endpoint, body.get("request_id"), "request_id"),
        country_id=as_id(endpoint, body.get("country_id", country_id), "country_id"),
        application_id=as_id(endpoint, body.get("application_id", application_id), "app"),
        number=digits,
    )
