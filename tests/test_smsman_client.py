"""Contract tests: the real SMS-man client against the SMS-man emulator over HTTP."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from bot.metrics import Metrics
from bot.smsman.client import SmsManClient
from bot.smsman.errors import (
    LowBalance,
    NoNumbers,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    RequestNotFound,
    SmsManError,
    WrongStatus,
    WrongToken,
)
from bot.smsman.models import RequestStatus
from bot.smsman.ratelimit import RateLimiter
from emulators.smsman import SmsManEmulator
from tests.conftest import SMSMAN_TOKEN

USA, RUSSIA, TELEGRAM, WHATSAPP = 5, 1, 3, 6


class CountingLimiter(RateLimiter):
    def __init__(self) -> None:
        super().__init__(10_000)
        self.acquired = 0

    def slot(self, *, background: bool = False) -> AbstractAsyncContextManager[None]:
        self.acquired += 1
        return super().slot(background=background)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
def emu_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emulator(emu_clock: FakeClock) -> AsyncIterator[SmsManEmulator]:
    async with SmsManEmulator(token=SMSMAN_TOKEN, lifetime=600, clock=emu_clock) as emu:
        yield emu


@pytest.fixture
def limiter() -> CountingLimiter:
    return CountingLimiter()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(2.0, connect=1.0)) as client:
        yield client


def make_client(
    http: httpx.AsyncClient,
    emulator: SmsManEmulator,
    limiter: RateLimiter,
    token: str = SMSMAN_TOKEN,
) -> SmsManClient:
    return SmsManClient(http, emulator.control_url, SecretStr(token), limiter, sleep=no_sleep)


@pytest.fixture
def client(
    http: httpx.AsyncClient, emulator: SmsManEmulator, limiter: CountingLimiter
) -> SmsManClient:
    return make_client(http, emulator, limiter)


async def test_catalog_endpoints(client: SmsManClient) -> None:
    countries = {c.id: c for c in await client.countries()}
    apps = {a.id: a for a in await client.applications()}
    assert countries[USA].title == "USA"
    assert countries[USA].code == "us"
    assert apps[TELEGRAM].title == "Telegram"
    assert len(countries) >= 40
    assert len(apps) >= 30


async def test_prices_in_both_shapes(client: SmsManClient, emulator: SmsManEmulator) -> None:
    flat = await client.get_prices(country_id=USA)
    assert flat
    assert all(p.country_id == USA for p in flat)
    offer = emulator.offer(USA, TELEGRAM)
    assert offer is not None
    telegram = next(p for p in flat if p.application_id == TELEGRAM)
    assert (telegram.cost, telegram.count) == (offer.cost, offer.count)
    assert isinstance(telegram.cost, Decimal)
    nested = await client.get_prices()
    assert {p.country_id for p in nested} >= {USA, RUSSIA}
    assert (
        next(p for p in nested if (p.country_id, p.application_id) == (USA, TELEGRAM)) == telegram
    )


async def test_empty_prices_come_back_as_an_empty_list(
    client: SmsManClient, emulator: SmsManEmulator
) -> None:
    emulator.fail_next("get-prices", "empty_list")
    assert await client.get_prices(country_id=USA) == []


async def test_limits(client: SmsManClient, emulator: SmsManEmulator) -> None:
    limits = await client.get_limits(country_id=USA, application_id=TELEGRAM)
    offer = emulator.offer(USA, TELEGRAM)
    assert offer is not None
    assert [(lim.country_id, lim.application_id, lim.numbers) for lim in limits] == [
        (USA, TELEGRAM, offer.count)
    ]


async def test_purchase_charges_and_get_sms_goes_from_waiting_to_code(
    client: SmsManClient, emulator: SmsManEmulator
) -> None:
    before = await client.get_balance()
    offer = emulator.offer(USA, TELEGRAM)
    assert offer is not None
    number = await client.get_number(USA, TELEGRAM, max_price=offer.cost, currency="RUB")
    assert number.number.startswith("1")
    assert (number.country_id, number.application_id) == (USA, TELEGRAM)
    assert await client.get_balance() == before - offer.cost
    call = emulator.calls[-2]
    assert call.endpoint == "get-number"
    assert Decimal(call.params["maxPrice"]) == offer.cost
    assert call.params["currency"] == "RUB"

    assert (await client.get_sms(number.request_id)).waiting
    emulator.deliver_sms(number.request_id, "482913")
    assert (await client.get_sms(number.request_id)).code == "482913"

    await client.set_status(number.request_id, RequestStatus.READY)
    assert (await client.get_sms(number.request_id)).waiting
    emulator.deliver_sms(number.request_id, "777111")
    assert (await client.get_sms(number.request_id)).code == "777111"
    await client.set_status(number.request_id, RequestStatus.CLOSE)
    assert await client.get_balance() == before - offer.cost
    with pytest.raises(RequestNotFound):
        await client.get_sms(number.request_id)


async def test_optional_purchase_parameters_are_sent(
    client: SmsManClient, emulator: SmsManEmulator
) -> None:
    await client.get_number(USA, TELEGRAM, has_multiple_sms=True, ref="abc")
    params = emulator.calls[-1].params
    assert (params["hasMultipleSms"], params["ref"]) == ("true", "abc")
    assert "maxPrice" not in params


@pytest.mark.parametrize("status", [RequestStatus.REJECT, RequestStatus.USED])
async def test_reject_and_used_refund(
    client: SmsManClient, emulator: SmsManEmulator, status: RequestStatus
) -> None:
    before = await client.get_balance()
    number = await client.get_number(USA, TELEGRAM)
    await client.set_status(number.request_id, status)
    assert await client.get_balance() == before
    with pytest.raises(RequestNotFound, match="not exists"):
        await client.set_status(number.request_id, status)


async def test_invalid_transitions(client: SmsManClient) -> None:
    number = await client.get_number(USA, TELEGRAM)
    with pytest.raises(WrongStatus):
        await client.set_status(number.request_id, RequestStatus.CLOSE)
    with pytest.raises(RequestNotFound):
        await client.set_status(987654, RequestStatus.REJECT)


async def test_expired_request_is_gone_and_refunded(
    client: SmsManClient, emulator: SmsManEmulator, emu_clock: FakeClock
) -> None:
    before = await client.get_balance()
    number = await client.get_number(USA, TELEGRAM)
    emu_clock.now += 601
    with pytest.raises(RequestNotFound):
        await client.get_sms(number.request_id)
    assert await client.get_balance() == before


async def test_price_above_max_price_is_no_numbers(
    client: SmsManClient, emulator: SmsManEmulator
) -> None:
    offer = emulator.offer(USA, TELEGRAM)
    assert offer is not None
    with pytest.raises(NoNumbers):
        await client.get_number(USA, TELEGRAM, max_price=offer.cost - Decimal("0.01"))


async def test_no_stock_and_low_balance(client: SmsManClient, emulator: SmsManEmulator) -> None:
    emulator.set_stock(USA, TELEGRAM, count=0)
    with pytest.raises(NoNumbers):
        await client.get_number(USA, TELEGRAM)
    emulator.set_stock(USA, WHATSAPP, count=10, cost=Decimal("5.00"))
    emulator.set_balance(Decimal("0.01"))
    with pytest.raises(LowBalance):
        await client.get_number(USA, WHATSAPP)


async def test_wrong_token_in_both_envelopes(
    http: httpx.AsyncClient, emulator: SmsManEmulator, limiter: CountingLimiter
) -> None:
    bad = make_client(http, emulator, limiter, token="nope-secret")
    with pytest.raises(WrongToken, match="Wrong token") as string_envelope:
        await bad.get_balance()
    with pytest.raises(WrongToken, match="Wrong token") as object_envelope:
        await bad.get_limits()
    for caught in (string_envelope, object_envelope):
        assert "nope-secret" not in str(caught.value)


async def test_transient_read_failures_are_retried(
    client: SmsManClient, emulator: SmsManEmulator, limiter: CountingLimiter
) -> None:
    emulator.fail_next("countries", "http_500")
    emulator.fail_next("countries", "drop")
    assert await client.countries()
    assert [c.endpoint for c in emulator.calls].count("countries") == 3
    assert limiter.acquired == 3, "every attempt goes through the shared limiter"


@pytest.mark.parametrize("kind", ["http_500", "http_502", "malformed", "html", "drop"])
async def test_persistent_failures_become_provider_unavailable(
    client: SmsManClient, emulator: SmsManEmulator, kind: str
) -> None:
    emulator.fail_next("get-balance", kind, times=3)
    with pytest.raises(ProviderUnavailable) as caught:
        await client.get_balance()
    assert SMSMAN_TOKEN not in str(caught.value)


async def test_timeout(emulator: SmsManEmulator, limiter: CountingLimiter) -> None:
    async with httpx.AsyncClient(timeout=0.2) as quick:
        client = SmsManClient(
            quick,
            emulator.control_url,
            SecretStr(SMSMAN_TOKEN),
            limiter,
            attempts=2,
            sleep=no_sleep,
        )
        emulator.fail_next("get-sms", "timeout", times=2, seconds=5)
        with pytest.raises(ProviderTimeout):
            await client.get_sms(1)


async def test_unknown_error_code_is_a_plain_provider_error(
    client: SmsManClient, emulator: SmsManEmulator
) -> None:
    emulator.fail_next("get-number", "error_code", code="brand_new_code", msg={"x": "Surprise"})
    with pytest.raises(SmsManError, match="Surprise") as caught:
        await client.get_number(USA, TELEGRAM)
    assert caught.value.code == "brand_new_code"
    assert type(caught.value) is SmsManError


async def test_get_number_is_never_retried(client: SmsManClient, emulator: SmsManEmulator) -> None:
    before = emulator.balance
    emulator.fail_next("get-number", "lost_response")
    with pytest.raises(ProviderUnavailable) as caught:
        await client.get_number(USA, TELEGRAM)
    assert caught.value.outcome_unknown
    assert [c.endpoint for c in emulator.calls].count("get-number") == 1
    assert emulator.balance < before, "the provider charged although we never heard"
    assert len(emulator.requests) == 1


async def test_a_refusal_for_our_rate_backs_every_call_off_and_is_retried(
    http: httpx.AsyncClient, emulator: SmsManEmulator, limiter: CountingLimiter
) -> None:
    metrics = Metrics()
    client = SmsManClient(
        http, emulator.control_url, SecretStr(SMSMAN_TOKEN), limiter, metrics=metrics
    )
    emulator.fail_next("get-balance", "too_many_requests")
    assert await client.get_balance() == Decimal("1000.00")
    first, second = emulator.calls
    assert first.answer == "fault:too_many_requests"
    # The limiter paused for a window: the retry left no sooner, whatever the backoff.
    assert second.arrived - first.arrived >= limiter.window
    counted = metrics.registry.get_sample_value(
        "smsman_bot_smsman_calls_total", {"endpoint": "get-balance", "outcome": "rate_limited"}
    )
    assert counted == 1


async def test_a_purchase_refused_for_our_rate_was_not_made(
    client: SmsManClient, emulator: SmsManEmulator
) -> None:
    emulator.fail_next("get-number", "too_many_requests")
    with pytest.raises(RateLimited) as caught:
        await client.get_number(USA, TELEGRAM)
    assert not caught.value.outcome_unknown, "SMS-man said it did not do it"
    assert [c.endpoint for c in emulator.calls] == ["get-number"], "never retried"
    assert emulator.requests == []


async def test_connection_refused_is_a_known_non_purchase(
    http: httpx.AsyncClient, limiter: CountingLimiter
) -> None:
    client = SmsManClient(
        http, "http://127.0.0.1:9/control", SecretStr("t"), limiter, sleep=no_sleep
    )
    with pytest.raises(ProviderUnavailable) as caught:
        await client.get_number(USA, TELEGRAM)
    assert not caught.value.outcome_unknown


async def test_token_never_logged(
    client: SmsManClient, emulator: SmsManEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    emulator.fail_next("get-balance", "http_500")
    await client.get_balance()
    assert caplog.records, "the retry is logged"
    assert SMSMAN_TOKEN not in caplog.text
