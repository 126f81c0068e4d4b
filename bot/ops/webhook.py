"""Webhook mode: aiogram's request handler behind the owner's reverse proxy, on WEBHOOK_LISTEN."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from urllib.parse import unquote

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.config import ListenAddress, Settings
from bot.telegram.gate import UPDATE_TASKS

log = logging.getLogger(__name__)

# Telegram waits for a webhook's answer; anything still open this long after a stop is closed.
CONNECTIONS_GRACE = 5.0
# Update ids remembered, so one posted again is not handled twice: minutes of ordinary
# traffic, and tens of seconds at the most one process handles, in about a megabyte.
RECENT = 10_000


class WebhookHandler(SimpleRequestHandler):
    """Answers each update at once and handles it in the background, so Telegram never times
    out and sends it again; `finish` waits for those still being handled.

    Telegram posts an update again when our 200 did not reach it: the latest `RECENT` update
    ids are remembered, and one posted again is answered 200 and not handled twice. A post
    with the right secret whose body is not an update is answered 400 (and logged). With
    `UPDATE_TASKS` updates under way, a post is answered 429: Telegram keeps it and posts it
    again a moment later, as polling would wait to fetch it.
    """

    def __init__(self, dp: Dispatcher, bot: Bot, *, secret_token: str) -> None:
        super().__init__(dp, bot, secret_token=secret_token)
        self._recent: OrderedDict[int, None] = OrderedDict()

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        # compare_digest refuses a str with other than ASCII in it: that is a wrong secret too.
        return telegram_secret_token.isascii() and super().verify_secret(telegram_secret_token, bot)

    async def _handle_request_background(self, bot: Bot, request: web.Request) -> web.Response:
        try:
            raw = await request.json(loads=bot.session.json_loads)
            update = Update.model_validate(raw, context={"bot": bot})
        except ValueError as exc:  # not JSON, or JSON that is not an update (pydantic's)
            log.warning("webhook: a post that is not an update, answered 400: %s", _first(exc))
            return web.Response(status=400, text="Bad Request: the body is not an update")
        if update.update_id in self._recent:
            log.info("webhook: update %s posted again, handled already", update.update_id)
            return web.json_response({})
        if len(self._background_feed_update_tasks) >= UPDATE_TASKS:
            log.warning("webhook: %d updates under way, %s refused", UPDATE_TASKS, update.update_id)
            return web.Response(status=429, headers={"Retry-After": "1"})
        self._recent[update.update_id] = None
        if len(self._recent) > RECENT:
            self._recent.popitem(last=False)
        task = asyncio.create_task(self._feed(bot, update))
        self._background_feed_update_tasks.add(task)
        task.add_done_callback(self._background_feed_update_tasks.discard)
        return web.json_response({})

    async def _feed(self, bot: Bot, update: Update) -> None:
        result = await self.dispatcher.feed_update(bot, update, **self.data)
        if isinstance(result, TelegramMethod):
            await self.dispatcher.silent_call_request(bot=bot, result=result)

    async def finish(self, grace: float) -> None:
        """Wait `grace` seconds at most for the updates under way, then cancel the rest: the
        stop must end within the service manager's patience, and an order a cancelled tap left
        half way is resolved at the next start, as after a crash."""
        # The set holds each background update from the moment its request was answered, which
        # the dispatcher's own middlewares cannot see until the task first runs.
        under_way = set(self._background_feed_update_tasks)
        if not under_way:
            return
        _done, late = await asyncio.wait(under_way, timeout=grace)
        if late:
            log.warning("stopping: %d webhook updates cancelled after %g s", len(late), grace)
            for task in late:
                task.cancel()
            await asyncio.wait(late)


class WebhookServer:
    def __init__(self, dp: Dispatcher, bot: Bot, settings: Settings) -> None:
        if settings.webhook_url is None or settings.webhook_secret is None:
            raise ValueError("webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET")
        self._dp = dp
        self._bot = bot
        self._url = str(settings.webhook_url)
        self._secret = settings.webhook_secret.get_secret_value()
        self._path = settings.webhook_path
        self._listen = settings.webhook_listen
        # A wrong or missing secret is answered 401 before the dispatcher sees anything.
        self._handler = WebhookHandler(dp, bot, secret_token=self._secret)
        self._runner: web.AppRunner | None = None
        self.address: ListenAddress | None = None
        # Set once it listens and Telegram knows where to post.
        self.ready = asyncio.Event()

    async def start(self) -> None:
        """Listen first, then tell Telegram where to post: its first update finds us ready."""
        app = web.Application()
        # aiohttp matches the decoded path; the URL keeps it percent-encoded.
        app.router.add_post(unquote(self._path), self._handler.handle)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=CONNECTIONS_GRACE
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, self._listen.host, self._listen.port).start()
        host, port = self._runner.addresses[0][:2]
        self.address = ListenAddress(host, port)
        await self._bot.set_webhook(
            url=self._url,
            secret_token=self._secret,
            allowed_updates=self._dp.resolve_used_update_types(),
            drop_pending_updates=False,
        )
        self.ready.set()
        log.info("webhook on http://%s%s", self.address, self._path)

    async def stop(self, grace: float) -> None:
        """Take no new updates (Telegram keeps them for the next start), then let those under
        way finish. The webhook stays set, so nothing is lost while the bot restarts."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self._handler.finish(grace)


def _first(error: ValueError) -> str:
    """The first line of a parse or validation error: the body itself is not logged."""
    return str(error).splitlines()[0] if str(error) else type(error).__name__
