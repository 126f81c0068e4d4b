"""Tests of the SMS-man emulator over real HTTP, with plain httpx."""

import asyncio
import json
import re
import signal
import ssl
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators.smsman import (
    APPLICATIONS,
    CONTROL_ENDPOINTS,
    COUNTRIES,
    Application,
    Catalog,
    Country,
    EmulatorState,
    FaultKind,
    LedgerKind,
    Offer,
    RequestStatus,
    SmsManEmulator,
)
from emulators.smsman.catalog import DEFAULT_OFFERS
from tests.sim.loop import virtual_loop

TOKEN = "test-token"
ROOT = Path(__file__).resolve().parent.parent
MONEY = re.compile(r"^\d+\.\d{2}$")
RU, TG = 1, 3  # Russia / Telegram: pinned in the catalog at 12.50 RUB, 345 numbers
# Only plain HTTP is used, but every httpx client builds a TLS context, ~50 ms each: share one.
TLS = ssl.create_default_context()
NOT_FOUND = {
    "success": False,
    "error_code": "wrong_request_id",
    "error_msg": "Current request not exists",
}
TOO_MANY = {
    "success": False,
    "error_code": "too_many_requests",
    "error_msg": "Too many requests, slow down",
}
WRONG_STATUS = {
    "success": False,
    "error_code": "wrong_status",
    "error_msg": "Invalid status transition",
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emulator(clock: FakeClock) -> AsyncIterator[SmsManEmulator]:
    async with SmsManEmulator(
        token=TOKEN, balance=Decimal("1000"), lifetime=1200.0, clock=clock
    ) as emu:
        yield emu


@pytest.fixture
async def client(emulator: SmsManEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emulator.control_url, timeout=5.0, verify=TLS) as http:
        yield http


@pytest.fixture
async def hooks(emulator: SmsManEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{emulator.base_url}/_emulator", timeout=5.0, verify=TLS
    ) as http:
        yield http


async def call(http: httpx.AsyncClient, endpoint: str, **params: str | int) -> Any:
    response = await http.get(f"/{endpoint}", params={"token": TOKEN, **params})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


async def buy(http: httpx.AsyncClient, country_id: int = RU, application_id: int = TG) -> int:
    body = await call(http, "get-number", country_id=country_id, application_id=application_id)
    request_id = body["request_id"]
    assert isinstance(request_id, int)
    return request_id


async def balance(http: httpx.AsyncClient) -> Decimal:
    return Decimal((await call(http, "get-balance"))["balance"])


# Shapes of the control routes


async def test_get_balance_shape(client: httpx.AsyncClient) -> None:
    assert await call(client, "get-balance") == {"balance": "1000.00", "hold": 0, "channels": 0}


async def test_post_form_works_like_get(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/get-number", data={"token": TOKEN, "country_id": "1", "application_id": "3"}
    )
    assert response.json()["request_id"] == 1
    response = await client.post("/get-balance", data={"token": TOKEN})
    assert response.json()["balance"] == "987.50"


@pytest.mark.parametrize("params", [{}, {"token": "nope"}, {"token": ""}])
async def test_wrong_token_on_get_balance_has_a_string_message(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get("/get-balance", params=params)
    assert response.status_code == 200
    assert response.json() == {
        "success": False,
        "error_code": "wrong_token",
        "error_msg": "Wrong token!",
    }


@pytest.mark.parametrize("endpoint", [e for e in CONTROL_ENDPOINTS if e != "get-balance"])
async def test_wrong_token_elsewhere_has_an_object_message(
    client: httpx.AsyncClient, emulator: SmsManEmulator, endpoint: str
) -> None:
    params = {"token": "nope", "country_id": "1", "application_id": "3", "request_id": "1"}
    response = await client.get(f"/{endpoint}", params=params)
    assert response.status_code == 200
    assert response.json() == {
        "success": False,
        "error_code": "wrong_token",
        "error_msg": {"token": "Wrong token!"},
    }
    assert emulator.requests == []


async def test_limits_is_a_list_of_strings(client: httpx.AsyncClient) -> None:
    limits = await call(client, "limits")
    assert isinstance(limits, list)
    assert len(limits) == len(DEFAULT_OFFERS)
    for item in limits:
        assert set(item) == {"application_id", "country_id", "numbers"}
        assert all(isinstance(value, str) for value in item.values())
    assert {"application_id": "3", "country_id": "1", "numbers": "345"} in limits


async def test_limits_filters(client: httpx.AsyncClient) -> None:
    by_country = await call(client, "limits", country_id=5)
    assert by_country
    assert {item["country_id"] for item in by_country} == {"5"}
    assert await call(client, "limits", country_id=1, application_id=3) == [
        {"application_id": "3", "country_id": "1", "numbers": "345"}
    ]
    assert await call(client, "limits", country_id=999) == []


async def test_countries_shape(client: httpx.AsyncClient) -> None:
    countries = await call(client, "countries")
    assert len(countries) >= 40
    for key, item in countries.items():
        assert item["id"] == key
        assert all(isinstance(value, str) for value in item.values())
        assert re.fullmatch(r"[a-z]{2}", item["code"])
    known = {"1": "Russia", "2": "Kazakhstan", "3": "China", "4": "Ukraine", "5": "USA"}
    known |= {"6": "Malaysia", "7": "Indonesia", "8": "Philippines", "14": "India"}
    known |= {"100": "United Kingdom"}
    assert {key: countries[key]["title"] for key in known} == known
    assert countries["1"] == {"id": "1", "title": "Russia", "code": "ru"}


async def test_applications_shape(client: httpx.AsyncClient) -> None:
    apps = await call(client, "applications")
    assert len(apps) >= 30
    for key, item in apps.items():
        assert item["id"] == key
        assert set(item) == {"id", "title", "code"}
        assert all(isinstance(value, str) and value for value in item.values())
    assert apps["3"] == {"id": "3", "title": "Telegram", "code": "tg"}
    assert apps["6"]["code"] == "wa"
    for key in ("1", "122", "124", "125", "133", "136", "162", "297"):
        assert key in apps
    titles = {item["title"] for item in apps.values()}
    assert "AT&T" in titles
    assert any("<" in title and ">" in title for title in titles)


async def test_get_prices_without_country_is_nested(client: httpx.AsyncClient) -> None:
    prices = await call(client, "get-prices")
    counts = []
    for country_id, apps in prices.items():
        assert int(country_id) in COUNTRIES
        for application_id, item in apps.items():
            assert int(application_id) in APPLICATIONS
            assert set(item) == {"cost", "count"}
            assert MONEY.match(item["cost"])
            assert type(item["count"]) is int
            counts.append(item["count"])
    assert prices["1"]["3"] == {"cost": "12.50", "count": 345}
    assert 0 in counts  # sold-out pairs stay listed
    absent = next(pair for pair in _all_pairs() if pair not in DEFAULT_OFFERS)
    assert str(absent[1]) not in prices.get(str(absent[0]), {})


async def test_get_prices_with_country_is_flat(client: httpx.AsyncClient) -> None:
    prices = await call(client, "get-prices", country_id=5)
    assert prices
    for application_id, item in prices.items():
        assert set(item) == {"application_id", "country_id", "cost", "count"}
        assert item["application_id"] == application_id
        assert item["country_id"] == "5"
        assert MONEY.match(item["cost"])
        assert type(item["count"]) is int


async def test_get_prices_filters_and_empty_list(
    client: httpx.AsyncClient, emulator: SmsManEmulator
) -> None:
    assert await call(client, "get-prices", country_id=1, application_id=3) == {
        "3": {"application_id": "3", "country_id": "1", "cost": "12.50", "count": 345}
    }
    by_app = await call(client, "get-prices", application_id=3)
    assert all(set(apps) == {"3"} for apps in by_app.values())
    assert await call(client, "get-prices", country_id=999) == []
    absent = next(pair for pair in _all_pairs() if pair not in DEFAULT_OFFERS)
    assert await call(client, "get-prices", country_id=absent[0], application_id=absent[1]) == []
    emulator.set_stock(RU, TG, 0)
    assert (await call(client, "get-prices", country_id=1))["3"]["count"] == 0


async def test_bad_filter_ids_are_refused(client: httpx.AsyncClient) -> None:
    body = await call(client, "limits", country_id="ru")
    assert body["error_code"] == "wrong_country_id"
    body = await call(client, "get-prices", application_id="x")
    assert body == {
        "success": False,
        "error_code": "wrong_application_id",
        "error_msg": {"application_id": "Wrong application_id!"},
    }


# Purchases


async def test_get_number_charges_and_takes_stock(
    client: httpx.AsyncClient, emulator: SmsManEmulator, clock: FakeClock
) -> None:
    body = await call(client, "get-number", country_id=1, application_id=3)
    assert set(body) == {"request_id", "country_id", "application_id", "number"}
    assert body["request_id"] == 1
    assert type(body["country_id"]) is int
    assert body["country_id"] == 1
    assert type(body["application_id"]) is int
    assert body["application_id"] == 3
    number = body["number"]
    assert isinstance(number, str)
    assert re.fullmatch(r"79\d{9}", number)
    assert await balance(client) == Decimal("987.50")
    assert (await call(client, "limits", country_id=1, application_id=3))[0]["numbers"] == "344"
    [request] = emulator.requests
    assert request.status is RequestStatus.WAITING
    assert request.cost == Decimal("12.50")
    assert request.expires_at == clock.now + 1200.0
    [entry] = emulator.ledger
    assert entry.kind is LedgerKind.CHARGE
    assert (entry.amount, entry.balance_after) == (Decimal("12.50"), Decimal("987.50"))
    assert emulator.spent == Decimal("12.50")


@pytest.mark.parametrize("country_id", [1, 3, 5, 8, 13, 100])
async def test_numbers_are_unique_and_use_the_calling_code(
    client: httpx.AsyncClient, emulator: SmsManEmulator, country_id: int
) -> None:
    country = COUNTRIES[country_id]
    emulator.set_stock(country_id, TG, 10, Decimal("1"))
    numbers = [
        (await call(client, "get-number", country_id=country_id, application_id=TG))["number"]
        for _ in range(5)
    ]
    assert len(set(numbers)) == 5
    for number in numbers:
        assert number.startswith(country.calling_code + country.mobile_prefix)
        assert len(number) == len(country.calling_code) + country.national_length


@pytest.mark.parametrize(
    ("max_price", "currency", "ok"),
    [
        ("12.5", None, True),
        ("12.50", "RUB", True),
        ("13", None, True),
        ("12", None, False),
        ("12.49", "RUB", False),
        ("0.14", "USD", True),  # 12.60 RUB
        ("0.13", "USD", False),  # 11.70 RUB
        ("0.125", "EUR", True),  # 12.50 RUB
        ("0.12", "EUR", False),  # 12.00 RUB
    ],
)
async def test_max_price_and_currency(
    client: httpx.AsyncClient, max_price: str, currency: str | None, ok: bool
) -> None:
    params: dict[str, str | int] = {"country_id": 1, "application_id": 3, "maxPrice": max_price}
    if currency is not None:
        params["currency"] = currency
    body = await call(client, "get-number", **params)
    if ok:
        assert body["request_id"] == 1
    else:
        assert body == {
            "success": False,
            "error_code": "no_numbers",
            "error_msg": "No free numbers",
        }
        assert await balance(client) == Decimal("1000.00")


@pytest.mark.parametrize(
    ("name", "value"), [("maxPrice", "abc"), ("maxPrice", "-1"), ("currency", "GBP")]
)
async def test_unparsable_purchase_params_are_refused(
    client: httpx.AsyncClient, name: str, value: str
) -> None:
    body = await call(client, "get-number", country_id=1, application_id=3, **{name: value})
    assert body["success"] is False
    assert body["error_code"] == "wrong_params"
    assert set(body["error_msg"]) == {name}


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("True", True), ("false", False), ("False", False)]
)
async def test_has_multiple_sms_and_ref_are_recorded(
    client: httpx.AsyncClient, emulator: SmsManEmulator, value: str, expected: bool
) -> None:
    await call(
        client, "get-number", country_id=1, application_id=3, hasMultipleSms=value, ref="abc"
    )
    [request] = emulator.requests
    assert (request.has_multiple_sms, request.ref) == (expected, "abc")


async def test_has_multiple_sms_rejects_other_spellings(client: httpx.AsyncClient) -> None:
    body = await call(client, "get-number", country_id=1, application_id=3, hasMultipleSms="yes")
    assert body["error_code"] == "wrong_params"


async def test_no_numbers_when_sold_out_or_not_offered(
    client: httpx.AsyncClient, emulator: SmsManEmulator
) -> None:
    emulator.set_stock(RU, TG, 0)
    body = await call(client, "get-number", country_id=1, application_id=3)
    assert body == {"success": False, "error_code": "no_numbers", "error_msg": "No free numbers"}
    absent = next(pair for pair in _all_pairs() if pair not in DEFAULT_OFFERS)
    body = await call(client, "get-number", country_id=absent[0], application_id=absent[1])
    assert body["error_code"] == "no_numbers"
    assert await balance(client) == Decimal("1000.00")
    assert emulator.requests == []
    assert emulator.ledger == []


async def test_last_number_can_be_bought(
    client: httpx.AsyncClient, emulator: SmsManEmulator
) -> None:
    emulator.set_stock(RU, TG, 1)
    await buy(client)
    assert (await call(client, "get-number", country_id=1, application_id=3))[
        "error_code"
    ] == "no_numbers"


async def test_unknown_or_missing_ids(client: httpx.AsyncClient) -> None:
    body = await call(client, "get-number", country_id=999, application_id=3)
    assert body == {
        "success": False,
        "error_code": "wrong_country_id",
        "error_msg": {"country_id": "Wrong country_id!"},
    }
    body = await call(client, "get-number", country_id=1, application_id=999)
    assert body["error_code"] == "wrong_application_id"
    assert (await call(client, "get-number", application_id=3))["error_code"] == "wrong_country_id"
    body = await call(client, "get-number", country_id=1)
    assert body["error_code"] == "wrong_application_id"


async def test_insufficient_balance(client: httpx.AsyncClient, emulator: SmsManEmulator) -> None:
    emulator.set_balance(Decimal("12.49"))
    body = await call(client, "get-number", country_id=1, application_id=3)
    assert body["success"] is False
    assert body["error_code"] == "balance"
    assert isinstance(body["error_msg"], str)
    assert emulator.requests == []
    offer = emulator.offer(RU, TG)
    assert offer is not None
    assert offer.count == 345
    emulator.set_balance(Decimal("12.50"))
    await buy(client)
    assert await balance(client) == Decimal("0.00")


# get-sms and set-status


async def test_get_sms_waits_then_returns_the_code(
    client: httpx.AsyncClient, emulator: SmsManEmulator
) -> None:
    request_id = await buy(client)
    number = emulator.requests[0].number
    waiting = await call(client, "get-sms", request_id=request_id)
    assert waiting == {
        "request_id": request_id,
        "country_id": 1,
        "application_id": 3,
        "number": number,
        "error_code": "wait_sms",
        "error_msg": "Still waiting...",
    }
    emulator.deliver_sms(request_id, "1243")
    assert await call(client, "get-sms", request_id=request_id) == {
        "request_id": request_id,
        "country_id": 1,
        "application_id": 3,
        "number": number,
        "sms_code": "1243",
    }


async def test_ready_rearms_for_a_second_code(
    client: httpx.AsyncClient, emulator: SmsManEmulator
) -> None:
    request_id = await buy(client)
    # Before any code, ready changes nothing.
    assert await call(client, "set-status", request_id=request_id, status="ready") == {
        "request_id": request_id,
        "success": True,
    }
    assert (await call(client, "get-sms", request_id=request_id))["error_code"] == "wait_sms"
    emulator.deliver_sms(request_id, "111111")
    assert (await call(client, "get-sms", request_id=request_id))["sms_code"] == "111111"
    await call(client, "set-status", request_id=request_id, status="ready")
    assert (await call(client, "get-sms", request_id=request_id))["error_code"] == "wait_sms"
    emulator.deliver_sms(request_id, "222222")
    assert (await call(client, "get-sms", request_id=request_id))["sms_code"] == "222222"
    await call(client, "set-status", request_id=request_id, status="close")
    [request] = emulator.requests
    assert request.codes == ["111111", "222222"]
    assert request.status is RequestStatus.CLOSED
    assert await balance(client) == Decimal("987.50")


async def test_each_code_records_when_it_arrived(
    client: httpx.AsyncClient, emulator: SmsManEmulator, clock: FakeClock
) -> None:
    request_id = await buy(client)
    clock.advance(7)
    emulator.deliver_sms(request_id, "111111")
    await call(client, "set-status", request_id=request_id, status="ready")
    clock.advance(30)
    emulator.deliver_sms(request_id, "222222")
    [request] = emulator.requests
    assert request.code_times == [1007.0, 1037.0]


@pytest.mark.parametrize(
    ("status", "final"), [("reject", RequestStatus.REJECTED), ("used", RequestStatus.USED)]
)
async def test_reject_and_used_refund(
    client: httpx.AsyncClient, emulator: SmsManEmulator, status: str, final: RequestStatus
) -> None:
    request_id = await buy(client)
    assert await call(client, "set-status", request_id=request_id, status=status) == {
        "request_id": request_id,
        "success": True,
    }
    assert await balance(client) == Decimal("1000.00")
    [request] = emulator.requests
    assert (request.status, request.refunded) == (final, True)
    assert [e.kind for e in emulator.ledger] == [LedgerKind.CHARGE, LedgerKind.REFUND]
    assert emulator.ledger[1].reason == final.value
    assert emulator.spent == Decimal(0)
    # The request is gone: a repeated cancel and a poll both find nothing, no second refund.
    assert await call(client, "set-status", request_id=request_id, status=status) == NOT_FOUND
    assert await call(client, "get-sms", request_id=request_id) == NOT_FOUND
    assert await balance(client) == Decimal("1000.00")


async def test_close_keeps_the_charge(client: httpx.AsyncClient, emulator: SmsManEmulator) -> None:
    request_id = await buy(client)
    emulator.deliver_sms(request_id, "4321")
    await call(client, "set-status", request_id=request_id, status="close")
    assert await balance(client) == Decimal("987.50")
    assert emulator.requests[0].refunded is False
    assert await call(client, "get-sms", request_id=request_id) == NOT_FOUND
    assert await call(client, "set-status", request_id=request_id, status="close") == NOT_FOUND


async def test_invalid_transitions(client: httpx.AsyncClient, emulator: SmsManEmulator) -> None:
    request_id = await buy(client)
    assert await call(client, "set-status", request_id=request_id, status="close") == WRONG_STATUS
    emulator.deliver_sms(request_id, "4321")
    for status in ("reject", "used", "cancel", ""):
        body = await call(client, "set-status", request_id=request_id, status=status)
        assert body == WRONG_STATUS
    body = await call(client, "set-status", request_id=request_id)
    assert body == WRONG_STATUS
    await call(client, "set-status", request_id=request_id, status="ready")
    # Re-armed, but a code did arrive: still no refund by reject.
    assert await call(client, "set-status", request_id=request_id, status="reject") == WRONG_STATUS
    assert emulator.requests[0].status is RequestStatus.WAITING_NEXT
    assert await balance(client) == Decimal("987.50")


@pytest.mark.parametrize("request_id", ["999", "abc", ""])
async def test_unknown_request(client: httpx.AsyncClient, request_id: str) -> None:
    assert await call(client, "get-sms", request_id=request_id) == NOT_FOUND
    body = await call(client, "set-status", request_id=request_id, status="reject")
    assert body == NOT_FOUND


# Lifetime


async def test_expiry_without_a_code_refunds(
    client: httpx.AsyncClient, emulator: SmsManEmulator, clock: FakeClock
) -> None:
    request_id = await buy(client)
    clock.advance(1199.9)
    assert (await call(client, "get-sms", request_id=request_id))["error_code"] == "wait_sms"
    clock.advance(0.1)
    assert await call(client, "get-sms", request_id=request_id) == NOT_FOUND
    assert await call(client, "set-status", request_id=request_id, status="reject") == NOT_FOUND
    assert await balance(client) == Decimal("1000.00")
    [request] = emulator.requests
    assert (request.status, request.refunded) == (RequestStatus.EXPIRED, True)
    refund = emulator.ledger[-1]
    assert (refund.kind, refund.reason, refund.time) == (LedgerKind.REFUND, "expired", 2200.0)


async def test_expiry_after_a_code_keeps_the_charge(
    client: httpx.AsyncClient, emulator: SmsManEmulator, clock: FakeClock
) -> None:
    request_id = await buy(client)
    emulator.deliver_sms(request_id, "5555")
    await call(client, "set-status", request_id=request_id, status="ready")
    clock.advance(5000)
    assert await call(client, "get-sms", request_id=request_id) == NOT_FOUND
    assert await balance(client) == Decimal("987.50")
    assert emulator.requests[0].status is RequestStatus.EXPIRED
    with pytest.raises(ValueError, match="expired"):
        emulator.deliver_sms(request_id, "6666")


async def test_expire_now_without_a_code_refunds(
    client: httpx.AsyncClient, emulator: SmsManEmulator, clock: FakeClock
) -> None:
    request_id = await buy(client)
    clock.advance(10)
    expired = emulator.expire_now(request_id)
    assert (expired.status, expired.refunded) == (RequestStatus.EXPIRED, True)
    assert expired.finished_at == expired.expires_at == 1010.0
    assert await call(client, "get-sms", request_id=request_id) == NOT_FOUND
    assert await balance(client) == Decimal("1000.00")
    refund = emulator.ledger[-1]
    assert (refund.kind, refund.reason, refund.time) == (LedgerKind.REFUND, "expired", 1010.0)


async def test_expire_now_after_a_code_keeps_the_charge(
    client: httpx.AsyncClient, emulator: SmsManEmulator
) -> None:
    request_id = await buy(client)
    emulator.deliver_sms(request_id, "5555")
    assert emulator.expire_now(request_id).refunded is False
    assert await balance(client) == Decimal("987.50")
    assert len(emulator.ledger) == 1


async def test_expire_now_refuses_unknown_and_finished_requests(
    client: httpx.AsyncClient, emulator: SmsManEmulator
) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        emulator.expire_now(42)
    request_id = await buy(client)
    await call(client, "set-status", request_id=request_id, status="reject")
    with pytest.raises(ValueError, match="already rejected"):
        emulator.expire_now(request_id)
    emulator.state.expire_due()
    assert len(emulator.ledger) == 2, "the rejected request was refunded once, not again"


async def test_custom_lifetime(clock: FakeClock) -> None:
    async with (
        SmsManEmulator(token=TOKEN, lifetime=0.5, clock=clock) as emu,
        httpx.AsyncClient(base_url=emu.control_url, verify=TLS) as http,
    ):
        request_id = await buy(http)
        clock.advance(0.5)
        assert await call(http, "get-sms", request_id=request_id) == NOT_FOUND


# Faults


async def test_fault_http_500(client: httpx.AsyncClient, emulator: SmsManEmulator) -> None:
    emulator.fail_next("get-balance", FaultKind.HTTP_500)
    response = await client.get("/get-balance", params={"token": TOKEN})
    assert response.status_code == 500
    assert "error_code" not in response.json()
    assert (await call(client, "get-balance"))["balance"] == "1000.00"


async def test_fault_http_502(client: httpx.AsyncClient, emulator: SmsManEmulator) -> None:
    emulator.fail_next("get-sms", "http_502", times=2)
    for _ in range(2):
        response = await client.get("/get-sms", params={"token": TOKEN, "request_id": "1"})
        assert response.status_code == 502
        assert response.headers["content-type"].startswith("text/html")
        assert "502 Bad Gateway" in response.text
    assert await call(client, "get-sms", request_id=1) == NOT_FOUND


async def test_fault_malformed(client: httpx.AsyncClient, emulator: SmsManEmulator) -> None:
    emulator.fail_next("countries", "malformed")
    response = await client.get("/countries", params={"token": TOKEN})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_fault_html(client: httpx.AsyncClient, emulator: SmsManEmulator) -> None:
    emulator.fail_next("get-prices", "html")
    response = await client.get("/get-prices", params={"token": TOKEN})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.lstrip().startswith("<!DOCTYPE html>")


async def test_fault_timeout(client: httpx.AsyncClient, emulator: SmsManEmulator) -> None:
    emulator.fail_next("get-number", "timeout")
    with pytest.raises(httpx.ReadTimeout):
        await client.get(
            "/get-number",
            params={"token": TOKEN, "country_id": "1", "application_id": "3"},
            timeout=0.2,
        )
    # The client gave up, which ends the handler: nothing was bought behind its back.
    assert await balance(client) == Decimal("1000.00")
    assert emulator.requests == []


async def test_fault_timeout_seconds_are_configurable(
    client: httpx.AsyncClient, emulator: SmsManEmulator
) -> None:
    emulator.fail_next("get-balance", "timeout", seconds=0.01)
    assert (await call(client, "get-balance"))["balance"] == "1000.00"
    assert emulator.calls[0].answer == "fault:timeout"


async def test_fault_drop(client: httpx.AsyncClient, emulator: SmsManEmulator) -> None:
    emulator.fail_next("limits", "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get("/limits", params={"token": TOKEN})
    assert await call(client, "limits", country_id=999) == []


async def test_fault_error_code(client: httpx.AsyncClient, emulator: SmsManEmulator) -> None:
    emulator.fail_next("get-number", "error_code", code="account_frozen", msg={"common": "Frozen"})
    body = await call(client, "get-number", country_id=1, application_id=3)
    assert body == {
        "success": False,
        "error_code": "account_frozen",
        "error_msg": {"common": "Frozen"},
    }
    assert emulator.requests == []
    emulator.fail_next("get-balance", "error_code")
    assert (await call(client, "get-balance"))["error_code"] == "unknown_error"


async def test_fault_empty_list(client: httpx.AsyncClient, emulator: SmsManEmulator) -> None:
    emulator.fail_next("applications", "empty_list")
    assert await call(client, "applications") == []
    assert len(await call(client, "applications")) == len(APPLICATIONS)


async def test_fault_too_many_requests_is_the_rate_limits_refusal(
    client: httpx.AsyncClient, emulator: SmsManEmulator
) -> None:
    emulator.fail_next("get-number", "too_many_requests")
    response = await client.get(
        "/get-number", params={"token": TOKEN, "country_id": "1", "application_id": "3"}
    )
    assert response.status_code == 429
    assert response.json() == TOO_MANY
    assert emulator.requests == [], "refused, so not carried out"
    assert emulator.rate_refusals == 0, "an injected fault, not the limit"


async def test_fault_lost_response(client: httpx.AsyncClient, emulator: SmsManEmulator) -> None:
    emulator.fail_next("get-number", "lost_response")
    response = await client.get(
        "/get-number", params={"token": TOKEN, "country_id": "1", "application_id": "3"}
    )
    assert response.status_code == 500
    [request] = emulator.requests
    assert request.status is RequestStatus.WAITING
    assert await balance(client) == Decimal("987.50")
    offer = emulator.offer(RU, TG)
    assert offer is not None
    assert offer.count == 344
    assert emulator.calls[0].answer == "fault:lost_response"
    # The request is real: it can be found and cancelled by id.
    body = await call(client, "set-status", request_id=request.request_id, status="reject")
    assert body["success"] is True


async def test_fault_late_answer_acts_first_and_answers_after_the_client_gave_up(
    client: httpx.AsyncClient, emulator: SmsManEmulator
) -> None:
    emulator.fail_next("get-number", "late_answer", seconds=30)
    with pytest.raises(httpx.ReadTimeout):
        await client.get(
            "/get-number",
            params={"token": TOKEN, "country_id": "1", "application_id": "3"},
            timeout=0.2,
        )
    # Unlike a timeout fault, the purchase happened: the provider sold, the client never heard.
    [request] = emulator.requests
    assert request.status is RequestStatus.WAITING
    assert await balance(client) == Decimal("987.50")
    assert emulator.calls[0].answer == "fault:late_answer"


async def test_fault_late_answer_reaches_a_client_that_waits(
    client: httpx.AsyncClient, emulator: SmsManEmulator
) -> None:
    emulator.fail_next("set-status", "late_answer", seconds=0.01)
    request_id = await buy(client)
    body = await call(client, "set-status", request_id=request_id, status="reject")
    assert body == {"request_id": request_id, "success": True}
    assert await balance(client) == Decimal("1000.00")


async def test_faults_queue_in_order(client: httpx.AsyncClient, emulator: SmsManEmulator) -> None:
    emulator.fail_next("get-balance", "empty_list")
    emulator.fail_next("get-balance", "http_500")
    assert await call(client, "get-balance") == []
    assert (await client.get("/get-balance", params={"token": TOKEN})).status_code == 500
    assert (await call(client, "get-balance"))["balance"] == "1000.00"


def test_fault_arguments_are_checked() -> None:
    emulator = SmsManEmulator()
    with pytest.raises(ValueError, match="unknown endpoint"):
        emulator.fail_next("get-balanse", "http_500")
    with pytest.raises(ValueError, match="not a valid FaultKind"):
        emulator.fail_next("get-balance", "http_404")
    with pytest.raises(ValueError, match="times"):
        emulator.fail_next("get-balance", "http_500", times=0)
    with pytest.raises(ValueError, match="seconds"):
        emulator.fail_next("get-balance", "timeout", seconds=0)
    with pytest.raises(ValueError, match="unknown endpoint"):
        emulator.set_latency("nope", 1)


async def test_latency(client: httpx.AsyncClient, emulator: SmsManEmulator) -> None:
    loop = asyncio.get_running_loop()
    emulator.set_latency("get-balance", 0.25)
    started = loop.time()
    await call(client, "get-balance")
    assert loop.time() - started >= 0.25
    emulator.set_latency("get-balance", 0)
    started = loop.time()
    await call(client, "get-balance")
    assert loop.time() - started < 0.25


async def test_wait_for_calls(client: httpx.AsyncClient, emulator: SmsManEmulator) -> None:
    waiter = asyncio.create_task(emulator.wait_for_calls("get-sms", count=2))
    await call(client, "get-sms", request_id=1)
    await call(client, "get-balance")
    assert not waiter.done()
    await call(client, "get-sms", request_id=2)
    calls = await asyncio.wait_for(waiter, 2.0)
    assert [c.params["request_id"] for c in calls] == ["1", "2"]


async def test_close_ends_a_pending_timeout_at_once(clock: FakeClock) -> None:
    emulator = SmsManEmulator(clock=clock)
    await emulator.start()
    emulator.fail_next("get-balance", "timeout", seconds=300)
    async with httpx.AsyncClient(base_url=emulator.control_url, timeout=10.0, verify=TLS) as http:
        pending = asyncio.create_task(http.get("/get-balance", params={"token": TOKEN}))
        # The call is recorded when the handler starts, before the fault's long wait.
        await asyncio.wait_for(emulator.wait_for_calls("get-balance"), 2.0)
        await asyncio.wait_for(emulator.close(), 2.0)
        response = await asyncio.wait_for(pending, 2.0)
    assert response.json()["balance"] == "1000.00"


# The optional rate limit


async def test_no_rate_limit_unless_asked(
    client: httpx.AsyncClient, emulator: SmsManEmulator
) -> None:
    answers = await asyncio.gather(*(call(client, "get-balance") for _ in range(50)))
    assert all(answer["balance"] == "1000.00" for answer in answers)
    assert emulator.rate_refusals == 0


async def test_the_rate_limit_refuses_the_excess_with_429(clock: FakeClock) -> None:
    async with (
        SmsManEmulator(token=TOKEN, clock=clock, max_rps=3) as emulator,
        httpx.AsyncClient(base_url=emulator.control_url, timeout=5.0, verify=TLS) as http,
    ):
        for _ in range(3):
            await call(http, "get-balance")
        refused = await http.get(
            "/get-number", params={"token": TOKEN, "country_id": "1", "application_id": "3"}
        )
        assert refused.status_code == 429
        assert refused.json() == TOO_MANY
        assert emulator.requests == [], "a refused purchase is not made"
        # Counted per token: another token's request is answered (here: refused as wrong).
        other = await http.get("/get-balance", params={"token": "another"})
        assert other.json()["error_code"] == "wrong_token"
        assert emulator.rate_refusals == 1
        answers = [c.answer for c in emulator.calls]
        assert answers == ["ok", "ok", "ok", "too_many_requests", "wrong_token"]
        arrived = [c.arrived for c in emulator.calls]
        assert arrived == sorted(arrived)


def test_the_rate_limit_window_slides_over_arrivals() -> None:
    """Any one second, half open: a request exactly a second after the oldest counted one is
    in a new window; a refused request does not count against later ones."""

    async def scenario() -> list[int]:
        emulator = SmsManEmulator(token=TOKEN, max_rps=3)
        statuses = []
        for at in (0.0, 0.5, 0.9, 0.95, 1.0, 1.45, 1.5, 1.9, 1.9):
            await asyncio.sleep(at - asyncio.get_running_loop().time())
            reply = await emulator.respond("get-balance", "GET", {"token": TOKEN})
            statuses.append(reply.status)
        assert emulator.rate_refusals == statuses.count(429)
        return statuses

    with virtual_loop() as loop:
        statuses = loop.run(scenario())
    assert statuses == [200, 200, 200, 429, 200, 429, 200, 200, 429]


def test_the_rate_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        SmsManEmulator(max_rps=0)


# Records and hooks


async def test_calls_are_recorded_without_the_token(
    client: httpx.AsyncClient, emulator: SmsManEmulator, clock: FakeClock
) -> None:
    await call(client, "get-balance")
    clock.advance(5)
    await client.post(
        "/get-number", data={"token": TOKEN, "country_id": "1", "application_id": "3"}
    )
    await call(client, "get-sms", request_id=1)
    await client.get("/get-balance", params={"token": "wrong"})
    calls = emulator.calls
    assert [(c.endpoint, c.method, c.answer) for c in calls] == [
        ("get-balance", "GET", "ok"),
        ("get-number", "POST", "ok"),
        ("get-sms", "GET", "wait_sms"),
        ("get-balance", "GET", "wrong_token"),
    ]
    assert calls[1].params == {"country_id": "1", "application_id": "3"}
    assert (calls[0].time, calls[1].time) == (1000.0, 1005.0)
    assert all("token" not in c.params for c in calls)


async def test_unknown_control_route_is_a_json_404(
    client: httpx.AsyncClient, emulator: SmsManEmulator
) -> None:
    for path in ("/get-all-prices", "/reject-number/1", "/"):
        response = await client.get(path, params={"token": TOKEN})
        assert response.status_code == 404
        assert response.json()["success"] is False
        assert response.json()["error_code"] == "not_found"
    assert emulator.calls[0].answer == "not_found"


async def test_http_hooks(
    client: httpx.AsyncClient, hooks: httpx.AsyncClient, emulator: SmsManEmulator
) -> None:
    response = await hooks.post(
        "/stock", json={"country_id": 5, "application_id": 3, "count": 2, "cost": "20"}
    )
    assert response.json() == {"ok": True, "cost": "20.00", "count": 2}
    response = await hooks.post("/stock", json={"country_id": 5, "application_id": 3, "cost": 20.5})
    assert response.json() == {"ok": True, "cost": "20.50", "count": 2}
    assert (await hooks.post("/balance", json={"balance": "50.5"})).json()["balance"] == "50.50"
    request_id = await buy(client, 5, 3)

    response = await hooks.post("/sms", json={"request_id": request_id, "code": "482913"})
    assert response.json()["request"]["sms_code"] == "482913"
    assert (await call(client, "get-sms", request_id=request_id))["sms_code"] == "482913"

    [request] = (await hooks.get("/requests")).json()
    assert request["request_id"] == request_id
    assert request["status"] == "received"
    assert (request["cost"], request["refunded"], request["codes"]) == ("20.50", False, ["482913"])
    assert request["code_times"] == [1000.0]
    response = await hooks.post("/expire", json={"request_id": request_id})
    assert response.json()["request"]["status"] == "expired"
    assert (await hooks.post("/expire", json={"request_id": request_id})).status_code == 400
    ledger = (await hooks.get("/ledger")).json()
    assert ledger["spent"] == "20.50"
    assert ledger["entries"][0]["kind"] == "charge"
    assert ledger["entries"][0]["balance_after"] == "30.00"

    fault = {"endpoint": "get-balance", "kind": "error_code", "times": 2, "code": "x", "msg": "y"}
    assert (await hooks.post("/fault", json=fault)).json() == {"ok": True}
    assert (await call(client, "get-balance"))["error_code"] == "x"
    assert (await call(client, "get-balance"))["error_msg"] == "y"
    await hooks.post("/latency", json={"endpoint": "get-balance", "seconds": 0.01})

    calls = (await hooks.get("/calls")).json()
    assert calls[0]["endpoint"] == "get-number"
    assert calls[0]["params"] == {"country_id": "5", "application_id": "3"}
    assert calls[-1]["answer"] == "fault:error_code"

    assert (await hooks.post("/reset")).json() == {"ok": True}
    assert await balance(client) == Decimal("1000.00")
    assert (await hooks.get("/requests")).json() == []
    assert [c["endpoint"] for c in (await hooks.get("/calls")).json()] == ["get-balance"]
    assert (await hooks.get("/ledger")).json() == {"entries": [], "spent": "0.00"}
    assert emulator.offer(5, 3) == DEFAULT_OFFERS.get((5, 3))


@pytest.mark.parametrize(
    ("hook", "body"),
    [
        ("/sms", {"request_id": 42, "code": "1"}),
        ("/sms", {"request_id": "1", "code": "1"}),
        ("/expire", {"request_id": 42}),
        ("/expire", {}),
        ("/stock", {"country_id": 1, "application_id": 3, "count": True}),
        ("/stock", {"country_id": 1, "application_id": 3, "cost": "abc"}),
        ("/stock", {"country_id": 1, "application_id": 3, "count": -1}),
        ("/stock", {"country_id": 999, "application_id": 3, "count": 1}),
        ("/balance", {}),
        ("/latency", {"endpoint": "nope", "seconds": 1}),
        ("/fault", {"endpoint": "get-balance", "kind": "nope"}),
        ("/fault", {"endpoint": "get-balance", "kind": "error_code", "msg": [1]}),
        ("/fault", ["not", "an", "object"]),
    ],
)
async def test_http_hooks_refuse_bad_payloads(
    hooks: httpx.AsyncClient, hook: str, body: object
) -> None:
    response = await hooks.post(hook, json=body)
    assert response.status_code == 400
    assert response.json()["ok"] is False
    assert response.json()["error"]


async def test_http_hook_refuses_invalid_json(hooks: httpx.AsyncClient) -> None:
    response = await hooks.post("/balance", content=b"{nope")
    assert response.status_code == 400


async def test_stock_of_a_pair_not_offered_needs_a_cost(emulator: SmsManEmulator) -> None:
    absent = next(pair for pair in _all_pairs() if pair not in DEFAULT_OFFERS)
    with pytest.raises(ValueError, match="give both"):
        emulator.set_stock(*absent, 5)
    offer = emulator.set_stock(*absent, 5, Decimal("7.7"))
    assert (offer.cost, offer.count) == (Decimal("7.7"), 5)


async def test_automatic_sms(clock: FakeClock) -> None:
    # With sms_after=0 the code is scheduled for the next loop turn, before the client can
    # even read the get-number answer, so no waiting is needed.
    async with (
        SmsManEmulator(token=TOKEN, clock=clock, sms_after=0) as emu,
        httpx.AsyncClient(base_url=emu.control_url, verify=TLS) as http,
    ):
        request_id = await buy(http)
        first = (await call(http, "get-sms", request_id=request_id))["sms_code"]
        assert re.fullmatch(r"\d{6}", first)
        await call(http, "set-status", request_id=request_id, status="ready")
        assert (await call(http, "get-sms", request_id=request_id))["sms_code"]
        assert len(emu.requests[0].codes) == 2


# Pure model and catalog


def test_state_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="lifetime"):
        EmulatorState(balance=Decimal(1), lifetime=0)
    with pytest.raises(ValueError, match="balance"):
        EmulatorState(balance=Decimal("NaN"), lifetime=1)
    state = EmulatorState(balance=Decimal(1), lifetime=1)
    with pytest.raises(ValueError, match="does not exist"):
        state.deliver_sms(1, "1")
    with pytest.raises(ValueError, match="no country"):
        state.set_stock(1, 999, 1)
    with pytest.raises(ValueError, match="must not be negative"):
        state.set_stock(1, 3, cost=Decimal(-1))


def test_requests_bought_at_different_times_expire_at_their_own_time(
    clock: FakeClock,
) -> None:
    state = EmulatorState(balance=Decimal(100), lifetime=10, clock=clock)
    first = state.buy(RU, TG)
    clock.advance(4)
    second = state.buy(RU, TG)
    clock.advance(6)
    assert [r.status for r in state.requests] == [RequestStatus.EXPIRED, RequestStatus.WAITING]
    clock.advance(3.9)
    assert state.active_request(second.request_id) is second
    clock.advance(0.1)
    assert [r.status for r in state.requests] == [RequestStatus.EXPIRED] * 2
    assert (first.finished_at, second.finished_at) == (1010.0, 1014.0)


def test_state_balance_override_settles_due_refunds_first(clock: FakeClock) -> None:
    state = EmulatorState(balance=Decimal(100), lifetime=10, clock=clock)
    state.buy(RU, TG)
    clock.advance(10)
    state.set_balance(Decimal(5))
    assert state.balance == Decimal(5)


def test_catalog() -> None:
    assert len(COUNTRIES) >= 40
    assert len(APPLICATIONS) >= 30
    # Countries sharing a calling code must not share number prefixes.
    prefixes = [c.calling_code + c.mobile_prefix for c in COUNTRIES.values()]
    assert len(set(prefixes)) == len(prefixes)
    assert len({a.code for a in APPLICATIONS.values()}) == len(APPLICATIONS)
    offers = DEFAULT_OFFERS.values()
    assert any(o.count == 0 for o in offers)
    assert len(DEFAULT_OFFERS) < len(COUNTRIES) * len(APPLICATIONS)
    assert all(o.cost == o.cost.quantize(Decimal("0.01")) and o.cost > 0 for o in offers)
    assert COUNTRIES[8].phone_number(1).startswith("63")


def _all_pairs() -> list[tuple[int, int]]:
    return [(c, a) for c in COUNTRIES for a in APPLICATIONS]


async def test_custom_catalog(clock: FakeClock) -> None:
    atlantis = Country(7, "Atlantis", "at", "999", 9, "5")
    zorvex = Application(500, "Zorvex", "zx")
    catalog = Catalog({7: atlantis}, {500: zorvex}, {(7, 500): Offer(Decimal("2.00"), 3)})
    async with (
        SmsManEmulator(token=TOKEN, clock=clock, catalog=catalog) as emulator,
        httpx.AsyncClient(base_url=emulator.control_url, timeout=5.0, verify=TLS) as http,
    ):
        assert await call(http, "countries") == {
            "7": {"id": "7", "title": "Atlantis", "code": "at"}
        }
        assert await call(http, "applications") == {
            "500": {"id": "500", "title": "Zorvex", "code": "zx"}
        }
        assert await call(http, "get-prices", country_id=7) == {
            "500": {"application_id": "500", "country_id": "7", "cost": "2.00", "count": 3}
        }
        await buy(http, 7, 500)
        assert emulator.requests[0].number.startswith("9995")
        refused = await call(http, "get-number", country_id=RU, application_id=TG)
        assert refused["error_code"] == "wrong_country_id"
        with pytest.raises(ValueError, match="no country"):
            emulator.set_stock(RU, TG, 1)
        emulator.reset()
        assert emulator.offer(7, 500) == Offer(Decimal("2.00"), 3)


def test_catalog_refuses_offers_for_unknown_pairs() -> None:
    with pytest.raises(ValueError, match="unknown pair"):
        Catalog(COUNTRIES, APPLICATIONS, {(999, TG): Offer(Decimal(1), 1)})


# Command line


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_cli_serves_and_stops_cleanly(signum: signal.Signals) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "emulators.smsman",
        "--port",
        "0",
        "--token",
        "cli-token",
        "--balance",
        "12.3",
        "--max-rps",
        "100",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    try:
        url = await asyncio.wait_for(_read_url(process.stdout), 10)
        async with httpx.AsyncClient(timeout=5.0, verify=TLS) as http:
            response = await http.get(f"{url}/get-balance", params={"token": "cli-token"})
        assert response.json() == {"balance": "12.30", "hold": 0, "channels": 0}
        process.send_signal(signum)
        assert await asyncio.wait_for(process.wait(), 10) == 0
        rest = (await process.stdout.read()).decode()
        assert "stopped" in rest
        assert "Traceback" not in rest
        [logged_call] = [line for line in rest.splitlines() if "/control/get-balance" in line]
        assert "cli-token" not in logged_call
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _read_url(stdout: asyncio.StreamReader) -> str:
    while line := (await stdout.readline()).decode():
        if found := re.search(r"listening on (http://\S+/control)", line):
            return found.group(1)
    raise AssertionError("the emulator exited without printing its URL")
