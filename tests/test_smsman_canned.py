"""The client against raw bodies quoted in smsman-api.md, and the odd shapes it warns about."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.smsman.client import SmsManClient
from bot.smsman.errors import (
    LowBalance,
    NoNumbers,
    ProviderUnavailable,
    RequestNotFound,
    SmsManError,
    WrongStatus,
    WrongToken,
)
from bot.smsman.models import Application, Country, Limit, Price, PurchasedNumber, RequestStatus
from bot.smsman.ratelimit import RateLimiter


async def no_sleep(_seconds: float) -> None:
    return None


def client_answering(body: Any, status: int = 200) -> SmsManClient:
    def handler(request: httpx.Request) -> httpx.Response:
        content = body if isinstance(body, str) else json.dumps(body)
        return httpx.Response(status, content=content.encode())

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return SmsManClient(
        http, "https://api.example/control", SecretStr("tok"), RateLimiter(1e6), sleep=no_sleep
    )


async def test_documented_balance() -> None:
    assert await client_answering({"balance": "799.70"}).get_balance() == Decimal("799.70")


async def test_balance_with_live_extra_fields_and_a_number() -> None:
    body = {"balance": 12.5, "hold": 0, "channels": 1, "active_channels": 0, "rating": "5"}
    assert await client_answering(body).get_balance() == Decimal("12.5")


async def test_documented_limits_list() -> None:
    body = [
        {"application_id": "1", "country_id": "1", "numbers": "32302"},
        {"application_id": "1", "country_id": "2", "numbers": "3494"},
    ]
    assert await client_answering(body).get_limits() == [Limit(1, 1, 32302), Limit(2, 1, 3494)]


async def test_limits_as_a_map() -> None:
    body = {"1": {"3": {"count": 12, "cost": "5.00"}}, "5": {"6": {"numbers": "7"}}}
    assert await client_answering(body).get_limits() == [Limit(1, 3, 12), Limit(5, 6, 7)]


async def test_documented_get_number_and_real_sample() -> None:
    documented = {"request_id": 1, "country_id": 1, "application_id": 1, "number": "79002415539"}
    assert await client_answering(documented).get_number(1, 1) == PurchasedNumber(
        1, 1, 1, "79002415539"
    )
    sample = {
        "request_id": 221651596,
        "application_id": 297,
        "country_id": 8,
        "number": "639295835583",
    }
    result = await client_answering(sample).get_number(8, 297)
    assert result == PurchasedNumber(221651596, 8, 297, "639295835583")


async def test_get_number_with_string_ids() -> None:
    body = {"request_id": "44", "country_id": "5", "application_id": "3", "number": "+15551234567"}
    assert await client_answering(body).get_number(5, 3) == PurchasedNumber(44, 5, 3, "15551234567")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"success": False, "error_code": "wrong_token", "error_msg": "Wrong token!"}, WrongToken),
        (
            {"success": False, "error_code": "wrong_token", "error_msg": {"token": "Wrong token!"}},
            WrongToken,
        ),
        ({"success": False, "error_code": "no_numbers", "error_msg": "No numbers"}, NoNumbers),
        ({"error_code": "no_numbers"}, NoNumbers),
        ({"success": False, "error_code": "balance", "error_msg": {"balance": "Low"}}, LowBalance),
        ({"success": False, "error_code": "not_enough_balance"}, LowBalance),
        ({"success": False, "error_code": "no_free_phones"}, NoNumbers),
        ({"success": False, "error_code": "new_thing", "error_msg": ["a", "b"]}, SmsManError),
        ({"success": False}, SmsManError),
    ],
)
async def test_get_number_errors(body: dict[str, Any], error: type[SmsManError]) -> None:
    with pytest.raises(error) as caught:
        await client_answering(body).get_number(1, 1)
    assert type(caught.value) is error


async def test_get_sms_waiting_code_and_gone() -> None:
    waiting = {
        "request_id": 1,
        "country_id": 1,
        "application_id": 31,
        "number": "12125551234",
        "error_code": "wait_sms",
        "error_msg": "Still waiting...",
    }
    assert (await client_answering(waiting).get_sms(1)).waiting
    waiting_with_success = {**waiting, "success": False}
    assert (await client_answering(waiting_with_success).get_sms(1)).waiting
    code = {
        "request_id": "1",
        "country_id": 1,
        "application_id": 31,
        "number": "12125551234",
        "sms_code": "1243",
    }
    assert (await client_answering(code).get_sms(1)).code == "1243"
    numeric_code = {**code, "sms_code": 482913}
    assert (await client_answering(numeric_code).get_sms(1)).code == "482913"
    gone = {"success": False, "error_msg": "Current request not exists"}
    with pytest.raises(RequestNotFound):
        await client_answering(gone).get_sms(1)


async def test_set_status_answers() -> None:
    await client_answering({"request_id": 1, "success": True}).set_status(1, RequestStatus.REJECT)
    with pytest.raises(WrongStatus):
        await client_answering(
            {"success": False, "error_code": "wrong_status", "error_msg": "Invalid"}
        ).set_status(1, RequestStatus.CLOSE)


async def test_prices_nested_flat_and_empty() -> None:
    nested = {"5": {"3": {"cost": "12.50", "count": 345}, "6": {"cost": "7", "count": "0"}}}
    assert await client_answering(nested).get_prices() == [
        Price(5, 3, Decimal("12.50"), 345),
        Price(5, 6, Decimal("7"), 0),
    ]
    flat = {"3": {"application_id": "3", "country_id": "5", "cost": "12.50", "count": 345}}
    assert await client_answering(flat).get_prices(country_id=5) == [
        Price(5, 3, Decimal("12.50"), 345)
    ]
    flat_without_ids = {"3": {"cost": "1.10", "count": 2}}
    assert await client_answering(flat_without_ids).get_prices(country_id=9) == [
        Price(9, 3, Decimal("1.10"), 2)
    ]
    assert await client_answering([]).get_prices(country_id=5) == []
    assert await client_answering({}).get_prices() == []


async def test_countries_and_applications_shapes() -> None:
    countries = {"1": {"id": "1", "title": "Russia", "code": "ru"}, "5": {"id": 5, "title": "USA"}}
    assert await client_answering(countries).countries() == [
        Country(1, "Russia", "ru"),
        Country(5, "USA", ""),
    ]
    apps = {"3": {"id": "3", "name": "Telegram", "code": "tg", "extra": 1}}
    assert await client_answering(apps).applications() == [Application(3, "Telegram", "tg")]
    assert await client_answering([]).applications() == []


@pytest.mark.parametrize(
    "body",
    [
        "<html>502 Bad Gateway</html>",
        '{"balance": ',
        {"balance": "lots"},
        {"balance": None},
        ["not", "a", "balance"],
    ],
)
async def test_malformed_bodies(body: Any) -> None:
    with pytest.raises(ProviderUnavailable, match="get-balance"):
        await client_answering(body).get_balance()


@pytest.mark.parametrize(
    "body",
    [
        {"1": "Russia"},
        {"1": {"id": "one", "title": "Russia"}},
        {"1": {"id": "1"}},
        "countries",
    ],
)
async def test_malformed_catalogs(body: Any) -> None:
    with pytest.raises(ProviderUnavailable, match="countries"):
        await client_answering(body).countries()


async def test_error_status_without_envelope() -> None:
    with pytest.raises(ProviderUnavailable, match="HTTP 404"):
        await client_answering({"name": "Not Found"}, status=404).get_balance()
    with pytest.raises(WrongToken):
        await client_answering({"error_code": "wrong_token"}, status=401).get_balance()
