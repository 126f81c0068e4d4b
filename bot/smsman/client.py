"""Async client for SMS-man's control API v2 on one shared httpx client."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from bot.metrics import Metrics
from bot.smsman import parsing
from bot.smsman.errors import ProviderTimeout, ProviderUnavailable, RateLimited
from bot.smsman.models import (
    Application,
    Country,
    Limit,
    Price,
    PurchasedNumber,
    RequestStatus,
    SmsResult,
)
from bot.smsman.ratelimit import RateLimiter

log = logging.getLogger(__name__)

Params = Mapping[str, str | int]
TOO_MANY_REQUESTS = 429


class SmsManClient:
    """One method per endpoint; errors are `bot.smsman.errors`, waiting for an SMS is not one.

    Reads and `set-status` are retried on transient failures; `get-number` never is, because a
    purchase whose answer was lost may still have been charged. Every request takes its turn
    from the shared limiter; a 429 (SMS-man refusing our rate: nothing was done) pauses it for
    a window, so every call backs off, not only the one refused.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        token: SecretStr,
        limiter: RateLimiter,
        *,
        attempts: int = 3,
        backoff: float = 0.25,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        metrics: Metrics | None = None,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._token = token
        self._limiter = limiter
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._sleep = sleep
        self._metrics = metrics or Metrics()

    async def get_balance(self) -> Decimal:
        body = await self._read("get-balance", {})
        if not isinstance(body, Mapping):
            raise parsing.malformed("get-balance", "not an object")
        balance = parsing.as_money("get-balance", body.get("balance"), "balance")
        self._metrics.balance(balance)
        return balance

    async def get_limits(
        self, country_id: int | None = None, application_id: int | None = None
    ) -> list[Limit]:
        params = _optional(country_id=country_id, application_id=application_id)
        return parsing.limits(await self._read("limits", params))

    async def get_prices(
        self, country_id: int | None = None, application_id: int | None = None
    ) -> list[Price]:
        params = _optional(country_id=country_id, application_id=application_id)
        return parsing.prices(await self._read("get-prices", params), country_id)

    async def countries(self) -> list[Country]:
        return parsing.countries(await self._read("countries", {}))

    async def applications(self) -> list[Application]:
        return parsing.applications(await self._read("applications", {}))

    async def get_number(
        self,
        country_id: int,
        application_id: int,
        *,
        max_price: Decimal | None = None,
        currency: str | None = None,
        has_multiple_sms: bool | None = None,
        ref: str | None = None,
    ) -> PurchasedNumber:
        params: dict[str, str | int] = {"country_id": country_id, "application_id": application_id}
        if max_price is not None:
            # A decimal string: rounding to the documented Integer could let the price exceed
            # the quote the user saw.
            params["maxPrice"] = format(max_price.normalize(), "f")
        if currency:
            params["currency"] = currency
        if has_multiple_sms is not None:
            params["hasMultipleSms"] = "true" if has_multiple_sms else "false"
        if ref:
            params["ref"] = ref
        body = await self._call("get-number", params)
        if parsing.is_error(body):
            raise parsing.error_for("get-number", body)
        return parsing.purchased(body, country_id, application_id)

    async def get_sms(self, request_id: int, *, background: bool = False) -> SmsResult:
        """`background` polls yield the rate limit to interactive calls."""
        body = await self._read(
            "get-sms", {"request_id": request_id}, check=False, background=background
        )
        if not isinstance(body, Mapping):
            raise parsing.malformed("get-sms", "not an object")
        # The waiting answer carries error_code but is a normal state, so check it first.
        if parsing.is_waiting(body):
            return SmsResult(request_id=request_id, code=None)
        if parsing.is_error(body):
            raise parsing.error_for("get-sms", body)
        code = body.get("sms_code")
        if isinstance(code, int) and not isinstance(code, bool):
            code = str(code)
        if not isinstance(code, str) or not code.strip():
            return SmsResult(request_id=request_id, code=None)
        return SmsResult(request_id=request_id, code=code.strip())

    async def set_status(
        self, request_id: int, status: RequestStatus, *, background: bool = False
    ) -> None:
        await self._read(
            "set-status",
            {"request_id": request_id, "status": status.value},
            background=background,
        )

    async def _read(
        self, endpoint: str, params: Params, *, check: bool = True, background: bool = False
    ) -> Any:
        """A call that is safe to repeat: retried with jittered backoff while transient."""
        for attempt in range(1, self._attempts + 1):
            try:
                body = await self._call(endpoint, params, background=background)
            except ProviderUnavailable as exc:
                if attempt == self._attempts:
                    raise
                delay = self._backoff * 2 ** (attempt - 1) * (1 + random.random() / 2)
                log.warning(
                    "SMS-man %s failed (%s); retry %d in %.2fs", endpoint, exc, attempt, delay
                )
                await self._sleep(delay)
                continue
            if check and parsing.is_error(body):
                raise parsing.error_for(endpoint, body)
            return body
        raise AssertionError("unreachable")  # pragma: no cover

    async def _call(self, endpoint: str, params: Params, *, background: bool = False) -> Any:
        # Encoded here: httpx's `params` merging re-parses URL and query, which doubled the CPU of
        # building each request (about 70 µs more), at hundreds of polls a second.
        query = urlencode({"token": self._token.get_secret_value(), **params})
        try:
            async with self._limiter.slot(background=background):
                response = await self._http.get(f"{self._base}/{endpoint}?{query}")
        except httpx.TimeoutException as exc:
            sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            raise self._unreached(
                endpoint,
                ProviderTimeout(f"SMS-man {endpoint}: timed out", outcome_unknown=sent),
            ) from None
        except httpx.TransportError as exc:
            sent = not isinstance(exc, httpx.ConnectError)
            raise self._unreached(
                endpoint,
                ProviderUnavailable(
                    f"SMS-man {endpoint}: network error ({type(exc).__name__})",
                    outcome_unknown=sent,
                ),
            ) from None
        if response.status_code == TOO_MANY_REQUESTS:
            self._limiter.pause(self._limiter.window)
            error = RateLimited(f"SMS-man {endpoint}: HTTP 429, too many requests")
            self._metrics.smsman_call(endpoint, "rate_limited", reached=True, error=str(error))
            raise error
        if response.status_code >= 500:
            raise self._unreached(
                endpoint, ProviderUnavailable(f"SMS-man {endpoint}: HTTP {response.status_code}")
            )
        try:
            body = response.json()
        except ValueError:
            why = f"HTTP {response.status_code}, not JSON"
            raise self._garbled(endpoint, parsing.malformed(endpoint, why)) from None
        if response.status_code >= 400 and not parsing.is_error(body):
            raise self._garbled(
                endpoint, ProviderUnavailable(f"SMS-man {endpoint}: HTTP {response.status_code}")
            )
        # Waiting for an SMS comes as an error code but is the normal answer.
        refused = parsing.is_error(body) and not parsing.is_waiting(body)
        self._metrics.smsman_call(endpoint, "refused" if refused else "ok", reached=True)
        return body

    def _unreached(self, endpoint: str, error: ProviderUnavailable) -> ProviderUnavailable:
        """Counted as SMS-man out of reach, then raised."""
        outcome = "timeout" if isinstance(error, ProviderTimeout) else "unavailable"
        self._metrics.smsman_call(endpoint, outcome, reached=False, error=str(error))
        return error

    def _garbled(self, endpoint: str, error: ProviderUnavailable) -> ProviderUnavailable:
        """Counted as an answer we could not read (SMS-man was reached), then raised."""
        self._metrics.smsman_call(endpoint, "malformed", reached=True, error=str(error))
        return error


def _optional(**values: int | None) -> dict[str, str | int]:
    return {key: value for key, value in values.items() if value is not None}
