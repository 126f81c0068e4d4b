"""Tolerant decoding of SMS-man JSON: ids as ints or strings, `[]` for `{}`, both envelopes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

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


# sqlite's INTEGER, where an order keeps its request id.
REQUEST_ID_LIMIT = 2**63


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


def as_int(endpoint: str, value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise malformed(endpoint, f"{field} is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise malformed(endpoint, f"{field}={value!r} is not an integer")


def as_count(endpoint: str, value: Any, field: str) -> int:
    return 0 if value is None or value == "" else as_int(endpoint, value, field)


def as_money(endpoint: str, value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise malformed(endpoint, f"{field} is missing")
    try:
        # str() first so a JSON float such as 12.5 becomes Decimal("12.5"), not its binary value.
        money = Decimal(str(value).strip())
    except InvalidOperation:
        raise malformed(endpoint, f"{field}={value!r} is not a number") from None
    if not money.is_finite() or money < 0:
        raise malformed(endpoint, f"{field}={value!r} is not a price")
    return money


def items_of(endpoint: str, body: Any) -> Iterable[tuple[str, Any]]:
    """Map-shaped catalogs arrive as `{"id": {...}}`, as `[]` when empty, or as lists."""
    if isinstance(body, Mapping):
        return ((str(k), v) for k, v in body.items())
    if isinstance(body, list):
        return ((str(i), v) for i, v in enumerate(body))
    raise malformed(endpoint, f"expected an object or a list, got {type(body).__name__}")


def _named(endpoint: str, key: str, item: Any) -> tuple[int, str, str]:
    if not isinstance(item, Mapping):
        raise malformed(endpoint, f"entry {key} is not an object")
    ident = as_int(endpoint, item.get("id", key), "id")
    title = item.get("title") or item.get("name")
    if not isinstance(title, str) or not title.strip():
        raise malformed(endpoint, f"entry {key} has no title")
    code = item.get("code")
    return ident, title.strip(), code.strip() if isinstance(code, str) else ""


def countries(body: Any) -> list[Country]:
    return [Country(*_named("countries", k, v)) for k, v in items_of("countries", body)]


def applications(body: Any) -> list[Application]:
    return [Application(*_named("applications", k, v)) for k, v in items_of("applications", body)]


def _price(endpoint: str, country_id: int, app_key: str, item: Any) -> Price:
    if not isinstance(item, Mapping):
        raise malformed(endpoint, f"price {app_key} is not an object")
    return Price(
        country_id=as_int(endpoint, item.get("country_id", country_id), "country_id"),
        application_id=as_int(endpoint, item.get("application_id", app_key), "application_id"),
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
    result: list[Price] = []
    for key, value in items_of(endpoint, body):
        if _is_price_item(value):
            if country_id is None and "country_id" not in value:
                raise malformed(endpoint, "flat prices without a country")
            result.append(_price(endpoint, country_id or 0, key, value))
            continue
        country = as_int(endpoint, key, "country_id")
        result.extend(_price(endpoint, country, k, v) for k, v in items_of(endpoint, value))
    return result


def limits(body: Any) -> list[Limit]:
    """A documented list of rows, or a map keyed by country (then by app) in newer answers."""
    endpoint = "limits"
    result: list[Limit] = []
    for key, value in items_of(endpoint, body):
        if not isinstance(value, Mapping):
            raise malformed(endpoint, f"entry {key} is not an object")
        if "numbers" in value or "count" in value:
            result.append(
                Limit(
                    country_id=as_int(endpoint, value.get("country_id", key), "country_id"),
                    application_id=as_int(endpoint, value.get("application_id"), "application_id"),
                    numbers=as_count(endpoint, value.get("numbers", value.get("count")), "numbers"),
                )
            )
            continue
        for app_key, row in items_of(endpoint, value):
            if not isinstance(row, Mapping):
                raise malformed(endpoint, f"entry {key}/{app_key} is not an object")
            result.append(
                Limit(
                    country_id=as_int(endpoint, row.get("country_id", key), "country_id"),
                    application_id=as_int(endpoint, row.get("application_id", app_key), "app"),
                    numbers=as_count(endpoint, row.get("numbers", row.get("count")), "numbers"),
                )
            )
    return result


def purchased(body: Any, country_id: int, application_id: int) -> PurchasedNumber:
    endpoint = "get-number"
    if not isinstance(body, Mapping):
        raise malformed(endpoint, "not an object")
    number = body.get("number")
    digits = str(number).strip().lstrip("+") if isinstance(number, str | int) else ""
    if not digits.isdigit():
        raise malformed(endpoint, "no phone number")
    request_id = as_int(endpoint, body.get("request_id"), "request_id")
    if not 1 <= request_id < REQUEST_ID_LIMIT:
        # Sold, but by an id the store cannot keep: as good as an answer we could not read.
        raise malformed(endpoint, f"request_id {request_id} is out of range")
    return PurchasedNumber(
        request_id=request_id,
        country_id=as_int(endpoint, body.get("country_id", country_id), "country_id"),
        application_id=as_int(endpoint, body.get("application_id", application_id), "app"),
        number=digits,
    )
