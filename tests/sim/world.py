"""The production Application on a virtual-time loop, against both emulators in-process."""

from __future__ import annotations

import asyncio
import gc
import random
import weakref
from collections.abc import Awaitable, Coroutine, Generator
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bot.config import Settings
from bot.factory import SMSMAN_TIMEOUT, Application
from emulators.smsman import DEFAULT_CATALOG, Catalog, SmsManEmulator
from emulators.telegram import DEFAULT_TOKEN, TelegramEmulator
from tests.conftest import ADMIN_ID, ALLOWED_ID, SMSMAN_TOKEN
from tests.sim import sqlite
from tests.sim.effects import Crashed, Effects
from tests.sim.loop import VirtualTimeLoop
from tests.sim.smsman_transport import InProcessTransport
from tests.sim.telegram_session import InProcessSession

T = TypeVar("T")

# The bot's wall clock at virtual time 0 (January 2027), so dates and deadlines look real.
EPOCH = 1_800_000_000.0
# Virtual seconds a start may take before the bot polls Telegram.
START_TIMEOUT = 60.0


class World:
    """One simulated world: a loop, the crash switch, the two emulators and at most one
    running bot process on a sqlite file in `directory`.

    Drive it from sync code (hypothesis rules): `run(coroutine)`, `advance(seconds)`,
    `open()` to start the bot, `crash()` to kill it at once, `stop()` to stop it cleanly.
    Settings are production's except for the tokens, ids and file (see `settings`); pass
    overrides as keywords, and SMS-man's catalog as `catalog`. The same calls in the same
    order replay the same run.
    """

    def __init__(
        self,
        directory: Path,
        locales: Path,
        *,
        seed: int = 0,
        smsman_timeout: httpx.Timeout = SMSMAN_TIMEOUT,
        catalog: Catalog = DEFAULT_CATALOG,
        **settings: Any,
    ) -> None:
        self.loop = VirtualTimeLoop()
        self.effects = Effects()
        self.loop.set_task_factory(self._new_task)
        values: dict[str, Any] = {
            "bot_token": DEFAULT_TOKEN,
            "smsman_token": SMSMAN_TOKEN,
            # Nothing goes over a network: these only have to be valid URLs.
            "telegram_api_url": "http://telegram.invalid",
            "smsman_api_url": "http://smsman.invalid/control",
            "database_path": directory / "bot.sqlite3",
            "admin_ids": [ADMIN_ID],
            "allowed_user_ids": [ALLOWED_ID],
            **settings,
        }
        self.settings = Settings(_env_file=None, **values)
        # As strict as SMS-man would be with a limit: a request over the bot's rate is refused.
        self.smsman = SmsManEmulator(
            token=SMSMAN_TOKEN,
            clock=self.loop.time,
            catalog=catalog,
            max_rps=self.settings.smsman_max_rps,
        )
        self.telegram = TelegramEmulator(DEFAULT_TOKEN, wall_clock=self.now)
        # As strict as Telegram: a send over its limits is refused (and counted).
        self.telegram.enforce_limits()
        self.app: Application | None = None
        self.starts = 0
        self._locales = locales
        self._seed = seed
        self._smsman_timeout = smsman_timeout
        self._polling: asyncio.Task[None] | None = None
        self._tasks: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
        self._connection: sqlite.InlineConnection | None = None

    def now(self) -> float:
        """The bot's wall clock: EPOCH plus the virtual time."""
        return EPOCH + self.loop.time()

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run(awaitable)

    def advance(self, seconds: float) -> None:
        self.loop.advance(seconds)

    def open(self) -> Application | None:
        """Start a bot process (a fresh one: nothing of an earlier one but the sqlite file)
        and return it once it polls Telegram; None if a crash armed in `effects` killed it
        before it was built. A process that crashed is cleaned up first, as by `crash()`."""
        if self.effects.crashed:
            self.crash()
        if self.app is not None:
            raise RuntimeError("a bot process is already running: stop() or crash() it first")
        self.effects.revive()
        self.starts += 1
        try:
            self.run(self._open())
        except Crashed:
            return None
        return self.app

    def crash(self) -> None:
        """The bot process dies now: no further effect, every task of it cancelled (the world
        has no other tasks between two `run` calls), its sqlite transaction rolled back."""
        self.effects.crash()
        self.loop.cancel_all(expected=(Crashed,))
        self.loop.close_async_generators()
        if self._connection is not None:
            self._connection.abandon()
        self.app = self._polling = self._connection = None

    def stop(self) -> None:
        """Stop the running bot process the way SIGTERM does; a crashed one (or one a crash
        armed in `effects` kills while it stops) is cleaned up as by `crash()`."""
        if self.effects.crashed:
            self.crash()
        elif self.app is not None:
            try:
                self.run(self._stop(self.app))
            except Crashed:
                self.crash()
            else:
                self.app = self._polling = self._connection = None

    def close(self) -> None:
        """Stop the bot if it runs, and close the loop."""
        self.stop()
        self.run(self.smsman.close())
        self.loop.close()

    def unretrieved(self) -> list[asyncio.Task[Any]]:
        """Tasks of this world that failed with nobody looking at the exception: what
        `loop_errors` finds after a garbage collection, without the collection's cost."""
        return [
            task
            for task in self._tasks
            if task.done() and not task.cancelled() and task._log_traceback
        ]

    def loop_errors(self) -> list[dict[str, Any]]:
        """Every call of the loop's exception handler so far ("Task exception was never
        retrieved", "Exception in callback", refused threads...). Collects garbage first:
        asyncio reports an unretrieved task exception only when the task is collected."""
        gc.collect()
        return list(self.loop.exception_events)

    async def _open(self) -> None:
        app = await Application.open(
            self.settings,
            clock=self.now,
            locales=self._locales,
            smsman_timeout=self._smsman_timeout,
            bot_session=InProcessSession(self.telegram, self.effects),
            smsman_transport=InProcessTransport(self.smsman, self.effects),
            connect_db=self._connect,
            # Its own stream per start, so a restart does not replay the first one's jitter.
            rng=random.Random(f"{self._seed}/{self.starts}"),
        )
        self.app = app
        seen = len(self.telegram.calls)
        polling = self._polling = asyncio.create_task(
            app.run_polling(handle_signals=False), name="polling"
        )
        listening = asyncio.create_task(
            self.telegram.wait_until(
                lambda: any(c.method == "getUpdates" for c in self.telegram.calls[seen:]),
                timeout=START_TIMEOUT,
            )
        )
        await asyncio.wait({polling, listening}, return_when=asyncio.FIRST_COMPLETED)
        if polling.done():
            listening.cancel()
            await asyncio.wait({listening})
            if not self.effects.crashed:
                polling.result()
        else:
            # Fails with the emulator's state if the start hangs before asking for updates.
            await listening

    async def _stop(self, app: Application) -> None:
        await app.stop_polling()
        if self._polling is not None:
            await self._polling
        await app.close()

    def _connect(self, database: str, **kwargs: Any) -> sqlite.InlineConnection:
        self._connection = sqlite.connect(database, self.effects, **kwargs)
        return self._connection

    def _new_task(
        self,
        loop: asyncio.AbstractEventLoop,
        coro: Generator[Any, None, Any] | Coroutine[Any, Any, Any],
        **kwargs: Any,
    ) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        task.add_done_callback(self._reap)
        self._tasks.add(task)
        return task

    def _reap(self, task: asyncio.Task[Any]) -> None:
        # Once the process is dead, how its tasks ended (mostly with Crashed) is the crash
        # itself and no error to report; nobody may be left to retrieve it.
        if self.effects.crashed and not task.cancelled():
            task.exception()
