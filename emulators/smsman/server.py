"""aiohttp server of the emulator: the /control routes and the /_emulator test hooks."""

import asyncio
import contextlib
import functools
import json
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import TracebackType
from typing import Self, assert_never

from aiohttp import web

from emulators.smsman import errors
from emulators.smsman.calls import Call
from emulators.smsman.catalog import DEFAULT_CATALOG, Catalog, Offer
from emulators.smsman.errors import ApiError, ErrorMsg
from emulators.smsman.faults import (
    BAD_GATEWAY_HTML,
    CHALLENGE_HTML,
    MALFORMED_JSON,
    SERVER_ERROR_JSON,
    Fault,
    FaultKind,
    FaultPlan,
)
from emulators.smsman.state import (
    ActivationRequest,
    Currency,
    EmulatorState,
    LedgerEntry,
    RequestStatus,
)
from emulators.smsman.throttle import RequestRate

logger = logging.getLogger(__name__)

CONTROL_ENDPOINTS = (
    "get-balance",
    "limits",
    "get-number",
    "get-sms",
    "set-status",
    "get-prices",
    "countries",
    "applications",
)

_CENT = Decimal("0.01")
# Emulator choice: the spellings seen in clients of the real API; anything else is refused.
_BOOLEANS = {"true": True, "True": True, "false": False, "False": False}

Params = Mapping[str, str]
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_dumps = functools.partial(json.dumps, ensure_ascii=False)


@dataclass(frozen=True)
class Reply:
    """What a control call answers, transport aside; `dropped`: the connection closes instead."""

    status: int = 200
    body: str = ""
    content_type: str = "application/json"
    dropped: bool = False


DROPPED = Reply(status=0, dropped=True)


class SmsManEmulator:
    """An SMS-man control API on a local port, with hooks for tests; money is in RUB."""

    def __init__(
        self,
        token: str = "test-token",
        balance: Decimal = Decimal("1000"),
        lifetime: float = 1200.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        sms_after: float | None = None,
        catalog: Catalog = DEFAULT_CATALOG,
        max_rps: float | None = None,
    ) -> None:
        """`max_rps`: requests a token may make in any one second (on the event loop's clock,
        the network's); the excess is answered 429 `too_many_requests`, not carried out, and
        counted in `rate_refusals`. None (the default) for no limit, as SMS-man documents."""
        if sms_after is not None and not (math.isfinite(sms_after) and sms_after >= 0):
            raise ValueError(f"sms_after must be a non-negative number, not {sms_after!r}")
        self.token = token
        self._clock = clock
        self._state = EmulatorState(
            balance=balance, lifetime=lifetime, clock=clock, catalog=catalog
        )
        self._sms_after = sms_after
        self._latency: dict[str, float] = {}
        self._faults = FaultPlan()
        self._rate = RequestRate(max_rps)
        self._calls: list[Call] = []
        # Replaced at every call, so a waiter wakes once per call recorded after it started.
        self._called = asyncio.Event()
        self._auto_sms: dict[int, asyncio.TimerHandle] = {}
        self._random = random.Random()
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._base_url: str | None = None
        self._answers: dict[str, Callable[[Params], object]] = {
            "get-balance": self._get_balance,
            "limits": self._limits,
            "get-number": self._get_number,
            "get-sms": self._get_sms,
            "set-status": self._set_status,
            "get-prices": self._get_prices,
            "countries": self._countries,
            "applications": self._applications,
        }

    # Lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on host:port; port 0 picks a free port, see base_url."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        # A fresh event, in case an earlier run set it or bound it to another event loop.
        self._closing = asyncio.Event()
        # handler_cancellation: a client that gives up (timeouts, drops) ends the handler, so
        # a "timeout" fault cannot act later behind the test's back. No access log: it would
        # print tokens; _record logs each call without one.
        runner = web.AppRunner(
            self._make_app(), handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        if ":" in bound_host:
            bound_host = f"[{bound_host}]"
        self._base_url = f"http://{bound_host}:{bound_port}"

    async def close(self) -> None:
        self._closing.set()
        self._cancel_auto_sms()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the emulator has not been started")
        return self._base_url

    @property
    def control_url(self) -> str:
        return f"{self.base_url}/control"

    # Python side of the test hooks

    @property
    def state(self) -> EmulatorState:
        return self._state

    @property
    def balance(self) -> Decimal:
        return self._state.balance

    @property
    def requests(self) -> list[ActivationRequest]:
        return self._state.requests

    @property
    def ledger(self) -> list[LedgerEntry]:
        return self._state.ledger

    @property
    def spent(self) -> Decimal:
        return self._state.spent

    @property
    def calls(self) -> list[Call]:
        return list(self._calls)

    @property
    def rate_refusals(self) -> int:
        """Requests refused for going over `max_rps` since the start (or the last reset)."""
        return self._rate.refused

    async def wait_for_calls(
        self,
        endpoint: str,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109 - a bounded wait is the point of this helper
    ) -> list[Call]:
        """Wait until `endpoint` has been called `count` times since the last reset.

        Lets a test wait for the bot's n-th poll instead of sleeping; raises TimeoutError after
        `timeout` seconds. Returns the calls of `endpoint`.
        """
        _check_endpoint(endpoint)
        async with asyncio.timeout(timeout):
            while True:
                matching = [c for c in self._calls if c.endpoint == endpoint]
                if len(matching) >= count:
                    return matching
                await self._called.wait()

    def offer(self, country_id: int, application_id: int) -> Offer | None:
        return self._state.offer(country_id, application_id)

    def deliver_sms(self, request_id: int, code: str) -> ActivationRequest:
        return self._state.deliver_sms(request_id, code)

    def expire_now(self, request_id: int) -> ActivationRequest:
        return self._state.expire_now(request_id)

    def set_stock(
        self,
        country_id: int,
        application_id: int,
        count: int | None = None,
        cost: Decimal | None = None,
    ) -> Offer:
        return self._state.set_stock(country_id, application_id, count, cost)

    def set_balance(self, balance: Decimal) -> None:
        self._state.set_balance(balance)

    def set_latency(self, endpoint: str, seconds: float) -> None:
        """Delay every answer of `endpoint`; 0 removes the delay."""
        _check_endpoint(endpoint)
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"seconds must be a non-negative number, not {seconds!r}")
        if seconds:
            self._latency[endpoint] = seconds
        else:
            self._latency.pop(endpoint, None)

    def fail_next(
        self,
        endpoint: str,
        kind: FaultKind | str,
        times: int = 1,
        *,
        seconds: float = 60.0,
        code: str = "unknown_error",
        msg: ErrorMsg = "Unknown error",
    ) -> None:
        """Give the next `times` calls of `endpoint` the fault `kind`, after earlier faults."""
        _check_endpoint(endpoint)
        fault = Fault(FaultKind(kind), seconds=seconds, code=code, msg=msg)
        self._faults.add(endpoint, fault, times)

    def clear_faults(self) -> None:
        """Drop every fault still queued: the provider is healthy again."""
        self._faults.clear()

    def reset(self) -> None:
        """Fresh account, stock and records; no latency, faults or pending automatic SMS."""
        self._state.reset()
        self._calls.clear()
        self._latency.clear()
        self._faults.clear()
        self._rate.reset()
        self._cancel_auto_sms()

    # HTTP

    def _make_app(self) -> web.Application:
        app = web.Application()
        # The catch-all pattern lets unknown /control/ paths get a JSON 404 like the known ones.
        app.router.add_get("/control/{endpoint:.*}", self._control, allow_head=False)
        app.router.add_post("/control/{endpoint:.*}", self._control)
        hooks: dict[str, _Handler] = {
            "sms": self._hook_sms,
            "expire": self._hook_expire,
            "stock": self._hook_stock,
            "balance": self._hook_balance,
            "latency": self._hook_latency,
            "fault": self._hook_fault,
            "reset": self._hook_reset,
        }
        for name, handler in hooks.items():
            app.router.add_post(f"/_emulator/{name}", _guarded(handler))
        app.router.add_get("/_emulator/calls", self._hook_calls, allow_head=False)
        app.router.add_get("/_emulator/requests", self._hook_requests, allow_head=False)
        app.router.add_get("/_emulator/ledger", self._hook_ledger, allow_head=False)
        return app

    async def _control(self, request: web.Request) -> web.StreamResponse:
        params = await _read_params(request)
        reply = await self.respond(request.match_info["endpoint"], request.method, params)
        if reply.dropped:
            if request.transport is not None:
                request.transport.abort()
            # Nothing can be written any more; aiohttp drops this answer with the connection.
            return web.Response(status=500)
        return web.Response(status=reply.status, text=reply.body, content_type=reply.content_type)

    async def respond(self, endpoint: str, http_method: str, params: Params) -> Reply:
        """One control call, whatever carried it: the rate limit, latency, faults, the answer
        and the record."""
        arrived = asyncio.get_running_loop().time()
        record = functools.partial(self._record, endpoint, http_method, params, arrived=arrived)
        if not self._rate.admit(params.get("token", ""), arrived):
            record(errors.too_many_requests().code)
            return _too_many_requests()
        if endpoint not in self._answers:
            record("not_found")
            missing = {
                "success": False,
                "error_code": "not_found",
                "error_msg": f"Unknown method /control/{endpoint}",
            }
            return _json_reply(missing, status=404)
        latency = self._latency.get(endpoint)
        if latency:
            await self._pause(latency)
        fault = self._faults.take(endpoint)
        if fault is not None:
            record(f"fault:{fault.kind}")
            return await self._faulty(endpoint, params, fault)
        body = self._answer(endpoint, params)
        record(_answer_kind(body))
        return _json_reply(body)

    async def _faulty(self, endpoint: str, params: Params, fault: Fault) -> Reply:
        match fault.kind:
            case FaultKind.HTTP_500:
                return _server_error()
            case FaultKind.LOST_RESPONSE:
                self._answer(endpoint, params)
                return _server_error()
            case FaultKind.HTTP_502:
                return Reply(status=502, body=BAD_GATEWAY_HTML, content_type="text/html")
            case FaultKind.MALFORMED:
                return Reply(body=MALFORMED_JSON)
            case FaultKind.HTML:
                return Reply(body=CHALLENGE_HTML, content_type="text/html")
            case FaultKind.TIMEOUT:
                await self._pause(fault.seconds)
                return _json_reply(self._answer(endpoint, params))
            case FaultKind.LATE_ANSWER:
                body = self._answer(endpoint, params)
                await self._pause(fault.seconds)
                return _json_reply(body)
            case FaultKind.DROP:
                return DROPPED
            case FaultKind.ERROR_CODE:
                error = {"success": False, "error_code": fault.code, "error_msg": fault.msg}
                return _json_reply(error)
            case FaultKind.EMPTY_LIST:
                return _json_reply([])
            case FaultKind.TOO_MANY_REQUESTS:
                return _too_many_requests()
            case _:
                assert_never(fault.kind)

    async def _pause(self, seconds: float) -> None:
        # Waiting on the closing event rather than sleeping lets close() end a long latency
        # or timeout fault at once.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _record(
        self, endpoint: str, method: str, params: Params, answer: str, *, arrived: float
    ) -> None:
        shown = {name: value for name, value in params.items() if name != "token"}
        self._calls.append(Call(endpoint, method, shown, self._clock(), answer, arrived))
        self._called.set()
        self._called = asyncio.Event()
        logger.info("%s /control/%s %s -> %s", method, endpoint, shown, answer)

    def _answer(self, endpoint: str, params: Params) -> object:
        if params.get("token") != self.token:
            return errors.wrong_token(plain=endpoint == "get-balance").body()
        try:
            return self._answers[endpoint](params)
        except ApiError as exc:
            return exc.body()

    # Control endpoints

    def _get_balance(self, params: Params) -> object:
        # Charges are taken at purchase, so nothing is ever on hold; channels belong to the
        # rent API.
        return {"balance": _money(self._state.balance), "hold": 0, "channels": 0}

    def _limits(self, params: Params) -> object:
        country_id = _optional_id(params, "country_id", errors.wrong_country_id)
        application_id = _optional_id(params, "application_id", errors.wrong_application_id)
        return [
            {"application_id": str(a), "country_id": str(c), "numbers": str(offer.count)}
            for c, a, offer in self._state.offers(country_id, application_id)
        ]

    def _get_prices(self, params: Params) -> object:
        country_id = _optional_id(params, "country_id", errors.wrong_country_id)
        application_id = _optional_id(params, "application_id", errors.wrong_application_id)
        # Sold-out pairs stay listed with count 0, as the real API lists them.
        offers = self._state.offers(country_id, application_id)
        if not offers:
            # `[]`, not `{}`: PHP encodes an empty array as a list, and clients of the real
            # API type this answer as "map | []".
            return []
        if country_id is None:
            nested: dict[str, dict[str, object]] = {}
            for c, a, offer in offers:
                nested.setdefault(str(c), {})[str(a)] = {
                    "cost": _money(offer.cost),
                    "count": offer.count,
                }
            return nested
        return {
            str(a): {
                "application_id": str(a),
                "country_id": str(c),
                "cost": _money(offer.cost),
                "count": offer.count,
            }
            for c, a, offer in offers
        }

    def _countries(self, params: Params) -> object:
        return {
            str(c.id): {"id": str(c.id), "title": c.title, "code": c.iso}
            for c in self._state.catalog.countries.values()
        }

    def _applications(self, params: Params) -> object:
        return {
            str(a.id): {"id": str(a.id), "title": a.title, "code": a.code}
            for a in self._state.catalog.applications.values()
        }

    def _get_number(self, params: Params) -> object:
        country_id = _required_id(params, "country_id", errors.wrong_country_id)
        application_id = _required_id(params, "application_id", errors.wrong_application_id)
        request = self._state.buy(
            country_id,
            application_id,
            max_price=_max_price(params),
            currency=_currency(params),
            has_multiple_sms=_has_multiple_sms(params),
            ref=params.get("ref") or None,
        )
        self._schedule_sms(request.request_id)
        return _number_fields(request)

    def _get_sms(self, params: Params) -> object:
        request = self._state.active_request(_request_id(params))
        code = request.sms_code
        if code is None:
            return _number_fields(request) | {
                "error_code": "wait_sms",
                "error_msg": "Still waiting...",
            }
        return _number_fields(request) | {"sms_code": code}

    def _set_status(self, params: Params) -> object:
        request = self._state.set_status(_request_id(params), params.get("status", ""))
        if request.status is RequestStatus.WAITING_NEXT:
            self._schedule_sms(request.request_id)
        return {"request_id": request.request_id, "success": True}

    # Automatic SMS (the CLI's --sms-after)

    def _schedule_sms(self, request_id: int) -> None:
        if self._sms_after is None or request_id in self._auto_sms:
            return
        self._auto_sms[request_id] = asyncio.get_running_loop().call_later(
            self._sms_after, self._auto_deliver, request_id
        )

    def _cancel_auto_sms(self) -> None:
        for handle in self._auto_sms.values():
            handle.cancel()
        self._auto_sms.clear()

    def _auto_deliver(self, request_id: int) -> None:
        del self._auto_sms[request_id]
        request = self._state.find(request_id)
        if request is None or request.status not in (
            RequestStatus.WAITING,
            RequestStatus.WAITING_NEXT,
        ):
            return
        code = str(self._random.randrange(100_000, 1_000_000))
        self._state.deliver_sms(request_id, code)
        logger.info("delivered code %s to request %d", code, request_id)

    # Test hooks over HTTP

    async def _hook_sms(self, request: web.Request) -> web.StreamResponse:
        payload = await _payload(request)
        delivered = self.deliver_sms(_int_field(payload, "request_id"), _str_field(payload, "code"))
        return _json({"ok": True, "request": _request_json(delivered)})

    async def _hook_expire(self, request: web.Request) -> web.StreamResponse:
        expired = self.expire_now(_int_field(await _payload(request), "request_id"))
        return _json({"ok": True, "request": _request_json(expired)})

    async def _hook_stock(self, request: web.Request) -> web.StreamResponse:
        payload = await _payload(request)
        count = payload.get("count")
        offer = self.set_stock(
            _int_field(payload, "country_id"),
            _int_field(payload, "application_id"),
            None if count is None else _int_field(payload, "count"),
            _decimal_field(payload, "cost"),
        )
        return _json({"ok": True, "cost": _money(offer.cost), "count": offer.count})

    async def _hook_balance(self, request: web.Request) -> web.StreamResponse:
        balance = _decimal_field(await _payload(request), "balance")
        if balance is None:
            raise ValueError("balance is required")
        self.set_balance(balance)
        return _json({"ok": True, "balance": _money(self.balance)})

    async def _hook_latency(self, request: web.Request) -> web.StreamResponse:
        payload = await _payload(request)
        seconds = _decimal_field(payload, "seconds")
        if seconds is None:
            raise ValueError("seconds is required")
        self.set_latency(_str_field(payload, "endpoint"), float(seconds))
        return _json({"ok": True})

    async def _hook_fault(self, request: web.Request) -> web.StreamResponse:
        payload = await _payload(request)
        times = payload.get("times")
        seconds = _decimal_field(payload, "seconds")
        code = payload.get("code")
        msg = payload.get("msg")
        self.fail_next(
            _str_field(payload, "endpoint"),
            _str_field(payload, "kind"),
            1 if times is None else _int_field(payload, "times"),
            seconds=60.0 if seconds is None else float(seconds),
            code="unknown_error" if code is None else _str_field(payload, "code"),
            msg="Unknown error" if msg is None else _error_msg(msg),
        )
        return _json({"ok": True})

    async def _hook_reset(self, request: web.Request) -> web.StreamResponse:
        self.reset()
        return _json({"ok": True})

    async def _hook_calls(self, request: web.Request) -> web.StreamResponse:
        return _json(
            [
                {
                    "endpoint": c.endpoint,
                    "method": c.method,
                    "params": c.params,
                    "time": c.time,
                    "answer": c.answer,
                    "arrived": c.arrived,
                }
                for c in self._calls
            ]
        )

    async def _hook_requests(self, request: web.Request) -> web.StreamResponse:
        return _json([_request_json(r) for r in self.requests])

    async def _hook_ledger(self, request: web.Request) -> web.StreamResponse:
        entries = [
            {
                "kind": e.kind,
                "request_id": e.request_id,
                "amount": _money(e.amount),
                "balance_after": _money(e.balance_after),
                "time": e.time,
                "reason": e.reason,
            }
            for e in self.ledger
        ]
        return _json({"entries": entries, "spent": _money(self.spent)})


def _guarded(handler: _Handler) -> _Handler:
    """Answer a hook's ValueError (a mistake in the test) with 400 and its message."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ValueError as exc:
            return _json({"ok": False, "error": str(exc)}, status=400)

    return guarded


def _json(body: object, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


def _json_reply(body: object, status: int = 200) -> Reply:
    return Reply(status=status, body=_dumps(body))


def _server_error() -> Reply:
    return Reply(status=500, body=SERVER_ERROR_JSON)


def _too_many_requests() -> Reply:
    return _json_reply(errors.too_many_requests().body(), status=429)


def _answer_kind(body: object) -> str:
    if isinstance(body, dict):
        code = body.get("error_code")
        if isinstance(code, str):
            return code
    return "ok"


def _money(amount: Decimal) -> str:
    return str(amount.quantize(_CENT, rounding=ROUND_HALF_UP))


def _check_endpoint(endpoint: str) -> None:
    if endpoint not in CONTROL_ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}, expected one of {CONTROL_ENDPOINTS}")


def _number_fields(request: ActivationRequest) -> dict[str, object]:
    return {
        "request_id": request.request_id,
        "country_id": request.country_id,
        "application_id": request.application_id,
        "number": request.number,
    }


def _request_json(request: ActivationRequest) -> dict[str, object]:
    return _number_fields(request) | {
        "status": request.status,
        "cost": _money(request.cost),
        "refunded": request.refunded,
        "codes": request.codes,
        "code_times": request.code_times,
        "sms_code": request.sms_code,
        "has_multiple_sms": request.has_multiple_sms,
        "ref": request.ref,
        "created_at": request.created_at,
        "expires_at": request.expires_at,
        "finished_at": request.finished_at,
    }


# Parsing control parameters


async def _read_params(request: web.Request) -> dict[str, str]:
    # Later values win, as in PHP's $_GET and $_POST; form fields win over the query string.
    params = dict(request.query.items())
    if request.method == "POST":
        form = await request.post()
        params.update((name, value) for name, value in form.items() if isinstance(value, str))
    return params


def _parse_id(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _optional_id(params: Params, name: str, error: Callable[[], ApiError]) -> int | None:
    text = params.get(name, "")
    if not text:
        return None
    value = _parse_id(text)
    if value is None:
        raise error()
    return value


def _required_id(params: Params, name: str, error: Callable[[], ApiError]) -> int:
    # Emulator choice: the docs call the ids optional, but every client sends them and what
    # SMS-man picks without them is unknown, so the emulator refuses.
    value = _optional_id(params, name, error)
    if value is None:
        raise error()
    return value


def _request_id(params: Params) -> int:
    value = _parse_id(params.get("request_id", ""))
    if value is None:
        raise errors.request_not_found()
    return value


def _max_price(params: Params) -> Decimal | None:
    text = params.get("maxPrice", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0:
        raise errors.wrong_param("maxPrice", "maxPrice must be a non-negative number")
    return value


def _currency(params: Params) -> Currency:
    text = params.get("currency") or Currency.RUB
    try:
        return Currency(text.upper())
    except ValueError:
        raise errors.wrong_param("currency", "currency must be RUB, USD or EUR") from None


def _has_multiple_sms(params: Params) -> bool:
    text = params.get("hasMultipleSms", "")
    if not text:
        return False
    if text not in _BOOLEANS:
        raise errors.wrong_param("hasMultipleSms", "hasMultipleSms must be true or false")
    return _BOOLEANS[text]


# Parsing hook payloads: ValueError becomes a 400 answer


def _loads_payload(text: str) -> object:
    return json.loads(text, parse_float=Decimal) if text.strip() else {}


async def _payload(request: web.Request) -> dict[str, object]:
    data = _loads_payload(await request.text())
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _int_field(payload: Mapping[str, object], name: str) -> int:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    return value


def _str_field(payload: Mapping[str, object], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def _decimal_field(payload: Mapping[str, object], name: str) -> Decimal | None:
    """A number or a numeric string; floats never occur, the payload parses them as Decimal."""
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise ValueError(f"{name} must be a number or a numeric string")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{name} must be a number or a numeric string") from None


def _error_msg(value: object) -> ErrorMsg:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return {str(k): str(v) for k, v in value.items()}
    raise ValueError("msg must be a string or an object of strings")
