"""An in-process Telegram Bot API server that a real aiogram Bot talks to in end-to-end tests."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from emulators.telegram.api import CONFLICT, loop_time
from emulators.telegram.flood import FloodLimits, counts_against_limits
from emulators.telegram.models import (
    ApiError,
    ApiObject,
    Call,
    CallbackQuery,
    Chat,
    GroupChat,
)
from emulators.telegram.payments import StarsApi
from emulators.telegram.user import SimUser
from emulators.telegram.webhook import WebhookApi

T = TypeVar("T")
DEFAULT_TOKEN = "123456:TEST-token"
_INT_PARAMS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "cache_time",
        "reply_to_message_id",
        "user_id",
        "max_connections",
    }
)
_BOOL_PARAMS = frozenset(
    {"show_alert", "drop_pending_updates", "disable_notification", "protect_content", "ok"}
)
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "commands",
        "scope",
        "allowed_updates",
        "link_preview_options",
        "reply_parameters",
        "prices",
    }
)


@dataclass
class _Fault:
    error: ApiError
    times: int
    # Only calls whose text contains this fail; the others go through.
    text: str | None = None


def decode_param(name: str, value: Any) -> Any:
    """A parameter as Telegram reads it: form values are strings, nested objects JSON."""
    if not isinstance(value, str):
        return value
    if name in _INT_PARAMS and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if name in _BOOL_PARAMS:
        return value.strip().lower() in ("true", "1")
    if name in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _token_is_well_formed(token: str) -> bool:
    bot_id, sep, secret = token.partition(":")
    return (
        bool(sep and secret and bot_id.isdigit()) and not token.startswith("0") and len(token) <= 80
    )


class TelegramEmulator(StarsApi, WebhookApi):
    """Serves the Bot API on 127.0.0.1 (or in-process, through ``call``, without ``start``)
    and keeps each user's private chat as the user sees it.

    With ``token=None`` any well-formed token is accepted; otherwise any other is refused.
    Updates go to the bot by getUpdates or, once it sets a webhook, by POST (see
    `WebhookApi`); ``stop()`` ends the deliveries, so call it even without ``start``.
    """

    def __init__(
        self,
        token: str | None = DEFAULT_TOKEN,
        *,
        bot_first_name: str = "Test Bot",
        bot_username: str = "test_bot",
        callback_answer_max_age: float | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(token, bot_first_name, bot_username, wall_clock)
        self.callback_answer_max_age = callback_answer_max_age
        self.calls: list[Call] = []
        self._initial_max_age = callback_answer_max_age
        self._users: dict[int, SimUser] = {}
        self._blocked_ids: set[int] = set()
        self._faults: dict[str, deque[_Fault]] = defaultdict(deque)
        self._by_lower_name = {name.lower(): name for name in self._methods}
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        # Telegram's send limits, when switched on: off, any number of calls goes through.
        self.flood: FloodLimits | None = None

    async def start(self) -> None:
        self._closing = False
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self._resume_deliveries()

    async def stop(self) -> None:
        # Long polls still waiting answer at once, so the server can shut down quickly.
        self._closing = True
        self._notify()
        try:
            await self._stop_deliveries()
        finally:
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
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What ``TelegramAPIServer.from_base`` needs."""
        if self._base_url is None:
            raise RuntimeError("the emulator is not started")
        return self._base_url

    # -- test controls -------------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "Ann",
        *,
        last_name: str | None = None,
        language_code: str | None = "en",
        username: str | None = None,
    ) -> SimUser:
        """The simulated user with this id, created with their private chat on first use."""
        if user_id in self._users:
            return self._users[user_id]
        user: ApiObject = {"id": user_id, "is_bot": False, "first_name": first_name}
        optional = {"last_name": last_name, "username": username, "language_code": language_code}
        user |= {key: value for key, value in optional.items() if value is not None}
        self.chats[user_id] = Chat(user=user, blocked=user_id in self._blocked_ids)
        self._users[user_id] = SimUser(self, self.chats[user_id])
        return self._users[user_id]

    def group(self, group_id: int, title: str = "Group") -> GroupChat:
        """The supergroup with this (negative) id, created with the bot in it on first use;
        people write and tap there with `SimUser.send_in` and `SimUser.tap_in`."""
        if group_id >= 0:
            raise ValueError("groups have negative ids")
        chat = self.chats.get(group_id)
        if not isinstance(chat, GroupChat):
            chat = self.chats[group_id] = GroupChat(user={}, group_id=group_id, title=title)
        return chat

    def reset(self) -> None:
        """Forget users, chats, updates, calls and settings, so one server can serve many tests.

        A long poll left waiting by a stopped bot is terminated, as a newer one would do. The
        webhook is removed: its deliveries are cancelled at once (they can change nothing
        after this) and awaited by the next ``stop()``, as a sync method cannot await.
        """
        self.calls.clear()
        self.chats.clear()
        self.callback_queries.clear()
        self.dropped_updates.clear()
        self.callback_answer_max_age = self._initial_max_age
        self._users.clear()
        self._blocked_ids.clear()
        self._faults.clear()
        self._commands.clear()
        self._updates.clear()
        self._allowed_updates = None
        self.flood = None
        self.forget_payments()
        self.forget_webhook()
        self._abort_long_poll(CONFLICT)
        self._active_poll = None
        self._notify()

    def block(self, user_id: int) -> None:
        """The user blocks the bot: sends and edits to them fail with 403 from now on."""
        self._blocked_ids.add(user_id)
        if user_id in self.chats:
            self._set_blocked(self.chats[user_id], blocked=True)

    def unblock(self, user_id: int) -> None:
        self._blocked_ids.discard(user_id)
        if user_id in self.chats:
            self._set_blocked(self.chats[user_id], blocked=False)

    def enforce_limits(self, **limits: Any) -> FloodLimits:
        """From now on hold sends and edits to Telegram's limits (`FloodLimits`' defaults, or
        `limits` by field name); the limits keep what was sent and how many were refused."""
        self.flood = FloodLimits(clock=loop_time, **limits)
        return self.flood

    def lift_limits(self) -> None:
        self.flood = None

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        *,
        retry_after: int | None = None,
        times: int = 1,
        text: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with this error, whatever they ask,
        or only those whose ``text`` parameter contains ``text``."""
        error = ApiError(error_code, description, retry_after=retry_after)
        self._faults[method.lower()].append(_Fault(error, times, text))

    def clear_faults(self) -> None:
        """Drop every fault still queued: Telegram answers normally again."""
        self._faults.clear()

    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def reset_calls(self) -> None:
        self.calls.clear()

    def my_commands(
        self, scope: ApiObject | None = None, language_code: str = ""
    ) -> list[ApiObject] | None:
        """The commands set for exactly this scope and language, or None if none were."""
        key = json.dumps(scope or {"type": "default"}, sort_keys=True), language_code
        return copy.deepcopy(self._commands.get(key))

    def unanswered_callback_queries(self) -> list[CallbackQuery]:
        return [query for query in self.callback_queries.values() if query.answer is None]

    @property
    def pending_updates(self) -> list[ApiObject]:
        """Updates queued and not yet confirmed by a getUpdates offset or the webhook's 2xx."""
        return copy.deepcopy(self._updates)

    @property
    def allowed_updates(self) -> frozenset[str] | None:
        """The update types the bot last asked for; None means Telegram's default."""
        return self._allowed_updates

    @property
    def is_long_polling(self) -> bool:
        return self._active_poll is not None

    async def wait_until(
        self,
        predicate: Callable[[], T | None],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a bounded wait is this helper's whole point
        describe: Callable[[], str] | None = None,
    ) -> T:
        """The first truthy value of ``predicate``, checked again on every change; on timeout
        an AssertionError with ``describe()``, or the emulator's state."""
        try:
            async with asyncio.timeout(timeout):
                return await self._wait(predicate)
        except TimeoutError:
            state = describe() if describe is not None else self.describe()
            raise AssertionError(f"nothing happened within {timeout} s\n{state}") from None

    def describe(self) -> str:
        lines = [f"pending updates: {len(self._updates)}, long polling: {self.is_long_polling}"]
        if self._allowed_updates is not None:
            lines.append(f"allowed_updates: {sorted(self._allowed_updates)}")
        lines += self._describe_webhook()
        lines += [f"dropped, type not in allowed_updates: {u}" for u in self.dropped_updates]
        lines += [
            f"unanswered callback query {query.id} data={query.data!r}"
            for query in self.unanswered_callback_queries()
        ]
        outcomes = {True: "ok", None: "pending"}
        lines += [
            f"call: {c.method} -> {outcomes.get(c.ok, c.description)}" for c in self.calls[-5:]
        ]
        return "\n".join(lines)

    # -- HTTP ----------------------------------------------------------------------------------

    async def _not_found(self, _request: web.Request) -> web.Response:
        return web.json_response(ApiError(404, "Not Found").payload(), status=404)

    async def call(self, token: str, method: str, params: ApiObject) -> tuple[int, ApiObject]:
        """One Bot API call as Telegram serves it, whatever carried it: the HTTP status and the
        JSON payload. ``params`` are decoded already, as Telegram reads form values."""
        call = self._record(method, params)
        try:
            self._check_token(token)
            name = self._by_lower_name.get(method.lower())
            if name is None:
                raise ApiError(404, "Not Found")
            self._take_fault(name, params)
            self._count(name, params)
            call.result = await self._methods[name](params)
        except ApiError as error:
            return self._failed(call, error)
        call.ok = True
        self._notify()
        return 200, {"ok": True, "result": call.result}

    async def _handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        try:
            params = await self._read_params(request)
        except ApiError as error:
            # Telegram received the call even though it could not read it.
            status, payload = self._failed(self._record(method, {}), error)
        else:
            status, payload = await self.call(token, method, params)
        return web.json_response(payload, status=status)

    def _record(self, method: str, params: ApiObject) -> Call:
        # Telegram's method names are case-insensitive; the record shows the canonical one.
        name = self._by_lower_name.get(method.lower(), method)
        call = Call(name, params, asyncio.get_running_loop().time())
        self.calls.append(call)
        return call

    def _failed(self, call: Call, error: ApiError) -> tuple[int, ApiObject]:
        call.ok, call.error_code, call.description = False, error.error_code, error.description
        self._notify()
        return error.error_code, error.payload()

    async def _read_params(self, request: web.Request) -> ApiObject:
        raw: dict[str, Any] = dict(request.query)
        if request.body_exists and request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: can't parse JSON object")
            raw |= body
        elif request.body_exists:
            form = await request.post()
            raw |= {key: value for key, value in form.items() if isinstance(value, str)}
        return {key: decode_param(key, value) for key, value in raw.items()}

    def _check_token(self, token: str) -> None:
        if not _token_is_well_formed(token):
            raise ApiError(401, "Unauthorized: invalid token specified")
        if self.token is not None and token != self.token:
            raise ApiError(401, "Unauthorized")
        self._seen_token = token

    def _count(self, method: str, params: ApiObject) -> None:
        # A call without a usable chat fails on its own, uncounted.
        chat_id = params.get("chat_id")
        if self.flood is None or not counts_against_limits(method):
            return
        if isinstance(chat_id, int | str) and chat_id != "":
            self.flood.check(chat_id)

    def _take_fault(self, method: str, params: ApiObject) -> None:
        faults = self._faults.get(method.lower())
        if not faults:
            return
        fault = faults[0]
        if fault.text is not None and fault.text not in str(params.get("text", "")):
            return
        fault.times -= 1
        if fault.times <= 0:
            faults.popleft()
        raise fault.error
