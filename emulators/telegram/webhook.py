"""Webhooks in the Telegram emulator: setWebhook's checks, getWebhookInfo, delivery by POST."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import math
import os
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

import aiohttp

from emulators.telegram.api import BotApi, loop_time
from emulators.telegram.models import ApiError, ApiObject
from emulators.telegram.webhook_url import WebhookUrl

WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
TERMINATED_BY_SET_WEBHOOK = "Conflict: terminated by setWebhook request"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_MAX_CONNECTIONS = 40
# Test controls' defaults. Telegram waits about a minute for an answer, and backs off from a
# failing update up to one or two minutes between tries (honouring Retry-After); tests want
# a failure noticed and retried at once.
WEBHOOK_TIMEOUT = 10.0
WEBHOOK_RETRY_DELAY = 0.5
# The Bot API server takes one setWebhook with a URL a second and answers the next with 429.
SET_WEBHOOK_INTERVAL = 1.0
_SECRET = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of an update to the webhook: the status it got, or why it got none."""

    update_id: int
    # Where it went: the proxy's address when one is set, else the webhook URL.
    url: str
    # The X-Telegram-Bot-Api-Secret-Token header sent, if any.
    secret: str | None
    status: int | None = None
    # What getWebhookInfo's last_error_message says of this attempt; None when delivered.
    error: str | None = None
    # A method the webhook answered with: Telegram would run it, the emulator only records it.
    reply_method: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status <= 299


@dataclass(eq=False)
class _Webhook:
    url: str
    parsed: WebhookUrl
    secret: str
    max_connections: int
    ip_address: str
    last_error_date: int = 0
    last_error_message: str = ""
    # Update ids being POSTed, and those waiting out the delay before another try.
    sending: set[int] = field(default_factory=set)
    waiting: set[int] = field(default_factory=set)

    @property
    def settings(self) -> tuple[str, str, int, str]:
        return self.url, self.secret, self.max_connections, self.ip_address


def _queue_key(update: ApiObject) -> str | None:
    # Telegram queues an update that belongs to a chat behind the earlier ones of its kind
    # there, so one chat's messages arrive in order; others (a callback query, a payment) go
    # out as soon as a connection is free.
    kind, payload = next((k, v) for k, v in update.items() if k != "update_id")
    chat = payload.get("chat") if isinstance(payload, dict) else None
    return f"{kind}:{chat['id']}" if isinstance(chat, dict) and "id" in chat else None


def _max_connections(params: ApiObject) -> int:
    # Telegram clamps max_connections to 1..100 rather than refuse it; text reads as 0.
    raw = params.get("max_connections")
    if raw is None or raw == "":
        return DEFAULT_MAX_CONNECTIONS
    value = raw if isinstance(raw, int) and not isinstance(raw, bool) else 0
    return min(max(value, 1), 100)


async def _reply_method(response: aiohttp.ClientResponse) -> str | None:
    """The method a webhook answered with, in a JSON or form body, as Telegram reads it."""
    if response.content_type == "multipart/form-data":
        async for part in aiohttp.MultipartReader.from_response(response):
            if isinstance(part, aiohttp.BodyPartReader) and part.name == "method":
                return await part.text()
            await part.release()
        return None
    body = await response.read()
    if response.content_type == "application/x-www-form-urlencoded":
        return parse_qs(body.decode(errors="replace")).get("method", [None])[0]
    try:
        reply = json.loads(body)
    except ValueError:
        return None
    method = reply.get("method") if isinstance(reply, dict) else None
    return method if isinstance(method, str) and method else None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _connection_error(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "Failed to resolve host: Name or service not known"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return os.strerror(exc.errno) if exc.errno else "Connection refused"
    # The webhook hung up, or answered with something that is not HTTP.
    return "Webhook connection closed"


class WebhookApi(BotApi):
    """The Bot API's webhook: while one is set, queued updates are POSTed to it, not polled.

    Test controls: ``webhook_proxy`` is where the reverse proxy in front of the bot forwards
    (``http://127.0.0.1:PORT``, or a callable read at each delivery that may return None while
    the bot does not listen yet); None sends to the webhook URL itself. ``webhook_timeout``
    and ``webhook_retry_delay`` are seconds; ``set_webhook_interval`` is how soon another
    setWebhook with a URL is taken (0: at once). ``webhook_answers_to_lose`` is how many of
    the next 2xx answers are lost on their way back: Telegram then sees a timeout and posts the
    update again. ``webhook_attempts`` records every POST.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.webhook_proxy: str | Callable[[], str | None] | None = None
        self.webhook_timeout = WEBHOOK_TIMEOUT
        self.webhook_retry_delay = WEBHOOK_RETRY_DELAY
        self.set_webhook_interval = SET_WEBHOOK_INTERVAL
        self.webhook_answers_to_lose = 0
        self.webhook_attempts: list[WebhookAttempt] = []
        self._webhook: _Webhook | None = None
        self._next_set_webhook_at = -math.inf
        self._delivery_tasks: set[asyncio.Task[None]] = set()
        self._delivery_crash: BaseException | None = None
        self._webhook_http: aiohttp.ClientSession | None = None
        self._methods |= {
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }

    @property
    def webhook_url(self) -> str | None:
        return None if self._webhook is None else self._webhook.url

    @property
    def webhook_secret(self) -> str | None:
        return None if self._webhook is None else self._webhook.secret or None

    def forget_webhook(self) -> None:
        """Remove the webhook and restore the test controls; deliveries under way are cancelled
        now and awaited by the emulator's ``stop()``."""
        self._drop_webhook()
        self.webhook_proxy = None
        self.webhook_timeout = WEBHOOK_TIMEOUT
        self.webhook_retry_delay = WEBHOOK_RETRY_DELAY
        self.set_webhook_interval = SET_WEBHOOK_INTERVAL
        self.webhook_answers_to_lose = 0
        self.webhook_attempts.clear()
        self._next_set_webhook_at = -math.inf

    async def _stop_deliveries(self) -> None:
        """Cancel and await every delivery, close the HTTP session; the webhook stays set.

        A delivery that crashed is raised here, so a bug in it fails the test."""
        self._cancel_deliveries()
        if self._delivery_tasks:
            await asyncio.wait(set(self._delivery_tasks))
        if self._webhook_http is not None:
            await self._webhook_http.close()
            self._webhook_http = None
        crash, self._delivery_crash = self._delivery_crash, None
        if crash is not None:
            raise RuntimeError("webhook delivery crashed") from crash

    def _resume_deliveries(self) -> None:
        """Deliver again to the webhook, if one is set, after ``_stop_deliveries``."""
        if self._webhook is not None and not self._delivery_tasks:
            self._spawn(self._dispatch(self._webhook))

    def _describe_webhook(self) -> list[str]:
        hook = self._webhook
        lines = (
            [] if self._delivery_crash is None else [f"delivery crashed: {self._delivery_crash!r}"]
        )
        if hook is None:
            return lines
        lines.append(
            f"webhook {hook.url} -> {self._target(hook)}: sending {sorted(hook.sending)}, "
            f"waiting to retry {sorted(hook.waiting)}"
        )
        if hook.last_error_date:
            lines.append(f"last webhook error: {hook.last_error_message}")
        return lines + [f"webhook attempt: {attempt}" for attempt in self.webhook_attempts[-5:]]

    # -- the Bot API methods -----------------------------------------------------------------

    async def _get_updates(self, params: ApiObject) -> list[ApiObject]:
        if self._webhook is not None:
            raise ApiError(409, WEBHOOK_ACTIVE)
        return await super()._get_updates(params)

    async def _delete_webhook(self, params: ApiObject) -> bool:
        # The Bot API server runs deleteWebhook as a setWebhook whose url is empty.
        return await self._set_webhook(params | {"url": ""})

    async def _set_webhook(self, params: ApiObject) -> bool:
        """setWebhook as the Bot API server takes it, step by step in its order."""
        url = "" if params.get("url") is None else str(params["url"])
        if url:
            now = loop_time()
            if now < self._next_set_webhook_at:
                raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
            self._next_set_webhook_at = now + self.set_webhook_interval
        secret = str(params.get("secret_token") or "") if url else ""
        ip_address = str(params.get("ip_address") or "") if url else ""
        settings = (url, secret, _max_connections(params) if url else 0, ip_address)
        current = ("", "", 0, "") if self._webhook is None else self._webhook.settings
        if settings == current and not params.get("drop_pending_updates"):
            self._set_allowed_updates(params.get("allowed_updates"))
            self._notify()
            return True
        if url:
            self._abort_long_poll(TERMINATED_BY_SET_WEBHOOK)
        # A changed webhook is closed first, so a setWebhook refused below leaves none.
        self._drop_webhook()
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._notify()
        if not url:
            return True
        parsed = WebhookUrl.parse(url)
        # td refuses a long secret with its own text, then any character outside base64url.
        if len(secret) > 256:
            raise ApiError(400, "Bad Request: secret token is too long")
        if not _SECRET.fullmatch(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        # Telegram takes the new allowed_updates before it tries the URL, even if that fails.
        self._set_allowed_updates(params.get("allowed_updates"))
        parsed.verify(ip_address)
        self._webhook = _Webhook(url, parsed, secret, settings[2], ip_address)
        self._spawn(self._dispatch(self._webhook))
        self._notify()
        return True

    async def _get_webhook_info(self, _params: ApiObject) -> ApiObject:
        hook = self._webhook
        info: ApiObject = {
            "url": "" if hook is None else hook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if hook is not None:
            if hook.last_error_date:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
            info["max_connections"] = hook.max_connections
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
        if self._allowed_updates is not None:
            info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    # -- delivery ------------------------------------------------------------------------------

    def _drop_webhook(self) -> None:
        self._webhook = None
        self._cancel_deliveries()

    def _cancel_deliveries(self) -> None:
        # A task cancelled here cannot touch the queue again: it wakes only to CancelledError.
        for task in self._delivery_tasks:
            task.cancel()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._delivery_tasks.add(task)
        task.add_done_callback(self._delivery_done)

    def _delivery_done(self, task: asyncio.Task[None]) -> None:
        self._delivery_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._delivery_crash = task.exception()
            self._notify()

    def _ready(self, hook: _Webhook) -> list[ApiObject]:
        """Queued updates to send now, oldest first, as many as free connections allow."""
        ready: list[ApiObject] = []
        blocked: set[str] = set()
        busy = hook.sending | hook.waiting
        for update in self._updates:
            if len(hook.sending) + len(ready) >= hook.max_connections:
                break
            key = _queue_key(update)
            if key in blocked:
                continue
            if key is not None:
                blocked.add(key)
            if update["update_id"] not in busy:
                ready.append(update)
        return ready

    async def _dispatch(self, hook: _Webhook) -> None:
        while True:
            for update in await self._wait(lambda: self._ready(hook)):
                hook.sending.add(update["update_id"])
                self._spawn(self._send(hook, copy.deepcopy(update)))

    async def _send(self, hook: _Webhook, update: ApiObject) -> None:
        update_id = int(update["update_id"])
        try:
            attempt = await self._post(hook, update)
        except asyncio.CancelledError:
            hook.sending.discard(update_id)
            raise
        # Left in `sending` after a crash, the update is not tried again and again.
        hook.sending.discard(update_id)
        self.webhook_attempts.append(attempt)
        if attempt.delivered:
            # Acknowledged, as a getUpdates offset past it would.
            self._updates = [u for u in self._updates if u["update_id"] != update_id]
            self._notify()
            return
        hook.last_error_date, hook.last_error_message = self._date(), str(attempt.error)
        hook.waiting.add(update_id)
        self._notify()
        try:
            await asyncio.sleep(self.webhook_retry_delay)
        finally:
            hook.waiting.discard(update_id)
            self._notify()

    def _target(self, hook: _Webhook) -> str | None:
        if self.webhook_proxy is None:
            return hook.parsed.direct
        base = self.webhook_proxy() if callable(self.webhook_proxy) else self.webhook_proxy
        return None if base is None else base.rstrip("/") + hook.parsed.target

    async def _post(self, hook: _Webhook, update: ApiObject) -> WebhookAttempt:
        url = self._target(hook)
        secret = hook.secret or None
        if url is None:
            return WebhookAttempt(update["update_id"], "", secret, error="Connection refused")
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        if hook.parsed.userinfo:
            basic = base64.b64encode(hook.parsed.userinfo.encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        if self._webhook_http is None:
            self._webhook_http = aiohttp.ClientSession()
        body = json.dumps(update, ensure_ascii=False).encode()
        try:
            async with (
                asyncio.timeout(self.webhook_timeout),
                self._webhook_http.post(url, data=body, headers=headers) as response,
            ):
                status, reason = response.status, response.reason
                method = await _reply_method(response) if 200 <= status <= 299 else None
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientError as exc:
            error = _connection_error(exc)
        else:
            if 200 <= status <= 299 and self.webhook_answers_to_lose > 0:
                self.webhook_answers_to_lose -= 1
                error = "Read timeout expired"
            elif 200 <= status <= 299:
                return WebhookAttempt(update["update_id"], url, secret, status, None, method)
            else:
                error = f"Wrong response from the webhook: {status} {reason or _phrase(status)}"
                return WebhookAttempt(update["update_id"], url, secret, status, error)
        return WebhookAttempt(update["update_id"], url, secret, error=error)
