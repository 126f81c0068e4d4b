"""`/healthz`: is this process able to do its work? Outages of Telegram or SMS-man are reported,
never counted against it, so a monitor restarts a stuck bot and leaves a waiting one alone."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import partial

from bot.clock import Clock
from bot.metrics import Metrics
from bot.orders.poller import Poller
from bot.storage.database import Database

log = logging.getLogger(__name__)

DATABASE_WRITE_TIMEOUT = 5.0
# A monitor (or anyone who can reach it) may ask often: a write this recent answers for now.
DATABASE_CHECK_REUSED_FOR = 5.0


@dataclass(frozen=True)
class HealthReport:
    problems: list[str]
    body: dict[str, object]

    @property
    def healthy(self) -> bool:
        return not self.problems


class Health:
    """The event loop answers (or there is no answer at all), the poller's heartbeat is fresh,
    the database takes a write."""

    def __init__(
        self,
        db: Database,
        poller: Poller,
        metrics: Metrics,
        clock: Clock,
        *,
        stale_after: float,
        write_timeout: float = DATABASE_WRITE_TIMEOUT,
    ) -> None:
        self._db = db
        self._poller = poller
        self._metrics = metrics
        self._clock = clock
        self._stale_after = stale_after
        self._write_timeout = write_timeout
        # The latest write check (when it started, and its problem), and the one under way.
        self._checked: tuple[float, str | None] | None = None
        self._checking: asyncio.Task[str | None] | None = None

    @property
    def heartbeat_age(self) -> float | None:
        return self._poller.heartbeat_age

    async def check(self) -> HealthReport:
        age = self._poller.heartbeat_age
        poller = self._poller_problem(age)
        database = await self._database()
        problems = [f"poller: {poller}"] if poller else []
        problems += [f"database: {database}"] if database else []
        body: dict[str, object] = {
            "status": "ok" if not problems else "failing",
            "problems": problems,
            "checks": {
                "event_loop": {"ok": True},
                "poller": {
                    "ok": poller is None,
                    "heartbeat_age_s": None if age is None else round(age, 3),
                    "stale_after_s": self._stale_after,
                    "orders_watched": self._poller.watched,
                },
                "database": {"ok": database is None, "error": database},
            },
            "reachability": {
                "telegram": self._metrics.telegram.report(),
                "smsman": self._metrics.smsman.report(),
            },
        }
        return HealthReport(problems, body)

    def _poller_problem(self, age: float | None) -> str | None:
        if not self._poller.started:
            return "not started yet (the bot is starting)"
        if age is None:
            return "not running (stopped or failed)"
        if age > self._stale_after:
            return f"no heartbeat for {age:.0f} s"
        return None

    async def _database(self) -> str | None:
        """Why the database took no write, or None: from a check of the last few seconds, or
        from the one under way, so requests at any rate cost at most one write per period."""
        now = self._clock()
        if self._checked is not None and now - self._checked[0] < DATABASE_CHECK_REUSED_FOR:
            return self._checked[1]
        if self._checking is None:
            self._checking = asyncio.create_task(self._write())
            self._checking.add_done_callback(partial(self._record, now))
        # Shielded: a request that goes away does not cancel the check the others wait for.
        return await asyncio.shield(self._checking)

    def _record(self, started: float, check: asyncio.Task[str | None]) -> None:
        self._checking = None
        if not check.cancelled():
            self._checked = (started, check.result())

    async def _write(self) -> str | None:
        try:
            async with asyncio.timeout(self._write_timeout):
                await self._db.write_health(self._clock())
        except TimeoutError:
            return f"no write within {self._write_timeout:g} s"
        except Exception as exc:
            log.warning("health: database write failed: %s", exc)
            return f"write failed: {exc}"
        return None
