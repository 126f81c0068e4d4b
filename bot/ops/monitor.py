"""The small HTTP server on METRICS_LISTEN: `/healthz` for a monitor, `/metrics` for Prometheus."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.config import ListenAddress
from bot.metrics import Metrics
from bot.ops.health import Health
from bot.storage.database import Database

log = logging.getLogger(__name__)


class Monitor:
    def __init__(self, health: Health, metrics: Metrics, db: Database) -> None:
        self._health = health
        self._metrics = metrics
        self._db = db
        self._runner: web.AppRunner | None = None
        self.address: ListenAddress | None = None
        # Set once it listens (tests wait for it; port 0 picks the port at that moment).
        self.listening = asyncio.Event()

    async def start(self, listen: ListenAddress) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._scrape)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, listen.host, listen.port).start()
        host, port = self._runner.addresses[0][:2]
        self.address = ListenAddress(host, port)
        self.listening.set()
        log.info("health and metrics on http://%s", self.address)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _request: web.Request) -> web.Response:
        report = await self._health.check()
        if not report.healthy:
            log.warning("unhealthy: %s", "; ".join(report.problems))
        return web.json_response(report.body, status=200 if report.healthy else 503)

    async def _scrape(self, _request: web.Request) -> web.Response:
        # Read at scrape time: counting them as they change would be one more thing to get wrong.
        try:
            self._metrics.orders_open.set(await self._db.count_open_orders())
        except Exception:
            log.exception("metrics: open orders not read")
        age = self._health.heartbeat_age
        self._metrics.poller_heartbeat_age.set(-1 if age is None else age)
        return web.Response(
            body=self._metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
