"""The composition root: the only place that builds the Bot, the Dispatcher and their parts."""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
import httpx
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.utils.i18n import I18n

from bot.catalog.cache import Catalog
from bot.catalog.popular import Popularity
from bot.clock import Clock, system_clock
from bot.config import Settings
from bot.i18n import LOCALES_DIR, UserLanguageMiddleware, create_i18n
from bot.metrics import Metrics
from bot.ops.health import Health
from bot.ops.housekeeping import Housekeeping
from bot.ops.monitor import Monitor
from bot.ops.webhook import WebhookServer
from bot.orders.notifier import Notifier
from bot.orders.outbox import Outbox
from bot.orders.poller import Poller
from bot.orders.purchase import Purchases
from bot.orders.service import OrderService
from bot.owner.access import Access
from bot.owner.alerts import AdminAlerts
from bot.owner.blocklist import Blocklist
from bot.owner.provider_float import ProviderFloat
from bot.person_rates import PersonRates
from bot.smsman.client import SmsManClient
from bot.smsman.ratelimit import RateLimiter
from bot.storage.database import Database
from bot.telegram.callback_answer import AnswerCallbacks
from bot.telegram.commands import set_commands
from bot.telegram.gate import UPDATE_TASKS, Gate
from bot.telegram.inflight import InFlight
from bot.telegram.observe import ObserveCalls, ObserveUpdates
from bot.telegram.pacer import Limits, Pacer
from bot.telegram.private_chats import PrivateChatsOnly
from bot.telegram.response_types import KeepResponseTypes
from bot.wallet.charges import price_to_person
from bot.wallet.owner import WalletDesk
from bot.wallet.topups import TopUps
from bot.wallet.upkeep import StarsUpkeep
from handlers import get_routers
from keyboards.orders import card_keyboard

log = logging.getLogger(__name__)

SMSMAN_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
DRAIN_TIMEOUT = 20.0
# The poller beats once an interval; this many seconds without one and the process is stuck.
HEARTBEAT_STALE_AFTER = 30.0


def telegram_session(settings: Settings) -> AiohttpSession:
    """aiohttp to TELEGRAM_API_URL, or to Telegram's own server."""
    base = settings.telegram_base_url
    return AiohttpSession(api=TelegramAPIServer.from_base(base)) if base else AiohttpSession()


def create_bot(
    settings: Settings, pacer: Pacer, metrics: Metrics, session: BaseSession | None = None
) -> Bot:
    """The Bot over `session` (a simulation's), or over aiohttp to the configured server; every
    send and edit goes through `pacer`, and every attempt is counted (inside it, so each 429
    is)."""
    session = session or telegram_session(settings)
    session.middleware(KeepResponseTypes())
    session.middleware(pacer)
    session.middleware(ObserveCalls(metrics))
    return Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def create_dispatcher(
    *,
    settings: Settings,
    db: Database,
    i18n: I18n,
    clock: Clock,
    metrics: Metrics,
    blocklist: Blocklist,
    **services: Any,
) -> Dispatcher:
    # Handlers get services, never the SMS-man client: only the services talk to the provider.
    dp = Dispatcher(
        settings=settings, db=db, i18n=i18n, clock=clock, blocklist=blocklist, **services
    )
    dp.include_routers(*get_routers())
    # Outer middlewares run in this order. Updates waiting at the gate count as in flight, so
    # a stop lets them finish; the gate and the private-chat check come before anything that
    # does work (the language middleware writes a new person's row).
    dp.update.outer_middleware(ObserveUpdates(metrics))
    in_flight = InFlight()
    dp["in_flight"] = in_flight
    dp.update.outer_middleware(in_flight)
    dp.update.outer_middleware(Gate(blocked=blocklist.__contains__, i18n=i18n, db=db, clock=clock))
    dp.update.outer_middleware(PrivateChatsOnly(i18n, db, clock))
    UserLanguageMiddleware(i18n, db, clock).setup(dp)
    dp.callback_query.middleware(AnswerCallbacks())
    dp.startup.register(_on_startup)
    dp.shutdown.register(_on_shutdown)
    return dp


async def _on_startup(
    bot: Bot,
    i18n: I18n,
    orders: OrderService,
    poller: Poller,
    outbox: Outbox,
    popular: Popularity,
    housekeeping: Housekeeping,
    stars_upkeep: StarsUpkeep,
) -> None:
    me = await bot.get_me()
    log.info("bot @%s (id %s) started", me.username, me.id)
    await set_commands(bot, i18n)
    popular.start()
    housekeeping.start()
    outbox.start()
    # In the background: what Telegram's Stars record holds cannot keep the bot from starting.
    stars_upkeep.start()
    await orders.resolve_interrupted()
    await poller.start()


async def _on_shutdown(
    poller: Poller,
    in_flight: InFlight,
    outbox: Outbox,
    popular: Popularity,
    housekeeping: Housekeeping,
    stars_upkeep: StarsUpkeep,
) -> None:
    # The timers need nothing (a round cut short is done again); taps under way finish first
    # (they may still edit a message), then the polls, then what they left to send.
    await popular.stop()
    await housekeeping.stop()
    await stars_upkeep.stop()
    await in_flight.drain(DRAIN_TIMEOUT)
    await poller.stop()
    await outbox.stop()


@dataclass
class Application:
    """Everything a running bot owns, closed in reverse order of opening."""

    settings: Settings
    http: httpx.AsyncClient
    db: Database
    smsman: SmsManClient
    bot: Bot
    dp: Dispatcher
    metrics: Metrics
    monitor: Monitor
    webhook: WebhookServer | None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        locales: Path = LOCALES_DIR,
        smsman_timeout: httpx.Timeout = SMSMAN_TIMEOUT,
        bot_session: BaseSession | None = None,
        smsman_transport: httpx.AsyncBaseTransport | None = None,
        connect_db: Callable[..., aiosqlite.Connection] = aiosqlite.connect,
        rng: random.Random | None = None,
    ) -> Application:
        """The defaults are production's; a simulation passes in-process transports, an
        inline sqlite connection and a seeded generator, and gets the same application."""
        i18n = create_i18n(settings.default_locale, locales)
        metrics = Metrics(clock)
        db = await Database.open(settings.database_path, connect=connect_db)
        blocklist = await Blocklist.load(db, settings, clock)
        http = httpx.AsyncClient(timeout=smsman_timeout, transport=smsman_transport)
        smsman = SmsManClient(
            http,
            settings.smsman_base_url,
            settings.smsman_token,
            RateLimiter(settings.smsman_max_rps),
            metrics=metrics,
        )
        pacer = Pacer(
            Limits.per_second(settings.telegram_max_sends_per_s, settings.telegram_chat_sends_per_s)
        )
        bot = create_bot(settings, pacer, metrics, bot_session)
        catalog = Catalog(
            smsman, clock, settings.currency, person_price=partial(price_to_person, settings)
        )
        alerts = AdminAlerts(bot, db, i18n, settings.admin_ids, settings.currency, clock)
        access = Access(db, settings, clock)
        provider_float = ProviderFloat(smsman, alerts, settings.low_balance_alert, clock)
        outbox = Outbox(
            Notifier(bot, db, i18n, clock, card_keyboard),
            db,
            pacer,
            clock,
            interval=settings.poll_interval_seconds,
            metrics=metrics,
        )
        orders = OrderService(
            db=db,
            smsman=smsman,
            catalog=catalog,
            settings=settings,
            alerts=alerts,
            provider_float=provider_float,
            outbox=outbox,
            clock=clock,
        )
        purchases = Purchases(
            db=db,
            orders=orders,
            settings=settings,
            access=access,
            provider_float=provider_float,
            clock=clock,
            metrics=metrics,
        )
        poller = Poller(
            orders, interval=settings.poll_interval_seconds, rate=settings.smsman_max_rps, rng=rng
        )
        top_ups = TopUps(db, settings, access, clock, bot)
        desk = WalletDesk(db, bot, clock)
        dp = create_dispatcher(
            settings=settings,
            db=db,
            i18n=i18n,
            clock=clock,
            metrics=metrics,
            blocklist=blocklist,
            rates=PersonRates.on(clock),
            catalog=catalog,
            alerts=alerts,
            orders=orders,
            purchases=purchases,
            popular=Popularity(db, clock),
            housekeeping=Housekeeping(db, clock),
            top_ups=top_ups,
            desk=desk,
            stars_upkeep=StarsUpkeep(desk, top_ups, wallet=settings.wallet),
            poller=poller,
            outbox=outbox,
            access=access,
            provider_float=provider_float,
        )
        stale_after = max(HEARTBEAT_STALE_AFTER, 5 * settings.poll_interval_seconds)
        health = Health(db, poller, metrics, clock, stale_after=stale_after)
        return cls(
            settings=settings,
            http=http,
            db=db,
            smsman=smsman,
            bot=bot,
            dp=dp,
            metrics=metrics,
            monitor=Monitor(health, metrics, db),
            webhook=WebhookServer(dp, bot, settings) if settings.webhook_url else None,
        )

    async def run(self, *, handle_signals: bool = True) -> None:
        """Serve until SIGTERM or SIGINT (or `stop`): by webhook when WEBHOOK_URL is set,
        otherwise by long polling; with /healthz and /metrics when METRICS_LISTEN is."""
        if self.settings.metrics_listen is not None:
            await self.monitor.start(self.settings.metrics_listen)
        try:
            if self.webhook is not None:
                await self._run_webhook(self.webhook, handle_signals=handle_signals)
            else:
                await self.run_polling(handle_signals=handle_signals)
        finally:
            await self.monitor.stop()

    async def run_polling(self, *, handle_signals: bool = True) -> None:
        # getUpdates is refused while a webhook is set: coming back from webhook mode, drop it
        # (its pending updates stay queued for us).
        await self.bot.delete_webhook(drop_pending_updates=False)
        polling = asyncio.create_task(
            self.dp.start_polling(
                self.bot,
                handle_signals=handle_signals,
                close_bot_session=False,
                tasks_concurrency_limit=UPDATE_TASKS,
            )
        )
        stopped = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({polling, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not polling.done():
                # start_polling took its lock in its first step, so this stop cannot be lost,
                # even if it came before polling began (aiogram refuses a stop before that).
                await self.stop_polling()
            await polling
        finally:
            stopped.cancel()
            polling.cancel()

    async def _run_webhook(self, webhook: WebhookServer, *, handle_signals: bool) -> None:
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT) if handle_signals else ()
        for number in signals:
            loop.add_signal_handler(number, self._stop.set)
        # What start_polling hands the start-up and shutdown handlers, so they run the same.
        workflow = {"dispatcher": self.dp, "bots": [self.bot], **self.dp.workflow_data}
        try:
            await self.dp.emit_startup(bot=self.bot, **workflow)
            try:
                await webhook.start()
                await self._stop.wait()
            finally:
                await webhook.stop(DRAIN_TIMEOUT)
                await self.dp.emit_shutdown(bot=self.bot, **workflow)
        finally:
            for number in signals:
                loop.remove_signal_handler(number)

    async def stop(self) -> None:
        """End `run` the way SIGTERM does, whenever it is called."""
        self._stop.set()

    async def stop_polling(self) -> None:
        # aiogram raises RuntimeError when polling has already ended, which is fine here.
        with suppress(RuntimeError):
            await self.dp.stop_polling()

    async def close(self) -> None:
        await self.bot.session.close()
        await self.http.aclose()
        await self.db.close()
