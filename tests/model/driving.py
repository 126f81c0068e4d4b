"""What every model of the bot does to drive its world: start it, run a step, send, tap, settle."""

from __future__ import annotations

import asyncio
import functools
import logging
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, ClassVar

from hypothesis.stateful import RuleBasedStateMachine, invariant

from emulators.telegram import SimUser, Tap
from tests.model.checks import Record
from tests.sim.world import World

# How long a process takes to start (imports), in virtual seconds.
START_SECONDS = 2.0
ANSWER_WAIT = 200.0


def guarded(step: Callable[..., None]) -> Callable[..., None]:
    """A failing step marks the example broken, so teardown does not pile checks on top."""

    @functools.wraps(step)
    def run(self: WorldModel, *args: Any, **kwargs: Any) -> None:
        try:
            step(self, *args, **kwargs)
        except BaseException:
            self.broken = True
            raise

    return run


class ErrorLog(logging.Handler):
    """ERROR records, except a crashed process's last words (its tasks failing with Crashed
    as they are torn down) and what a clean stop's teardown says."""

    def __init__(self, dead: Callable[[], bool]) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.muted = False
        self._dead = dead

    def emit(self, record: logging.LogRecord) -> None:
        if not self.muted and not self._dead():
            self.records.append(record)


class WorldModel(RuleBasedStateMachine):
    """A bot process in a simulated world with both emulators, driven by a model's rules.

    Set `locales` before running; `coverage` counts the rules that ran, across examples.
    """

    locales: ClassVar[Path]
    coverage: ClassVar[Counter[str]] = Counter()
    # Settings a variant of the model runs the bot with (wallet mode, say).
    settings_overrides: ClassVar[dict[str, Any]] = {}

    def __init__(self, **settings: Any) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix=f"{type(self).__name__.lower()}-"))
        self.world = World(self.directory, self.locales, **settings, **self.settings_overrides)
        self.errors = ErrorLog(lambda: self.world.effects.crashed)
        logging.getLogger().addHandler(self.errors)
        self.record = Record()
        self.broken = False

    def _start(self) -> None:
        if self.record.starts:
            # A process takes seconds to start (aiogram's import alone): Telegram's limits
            # have room again by then for what the process before it had sent.
            self.world.advance(START_SECONDS)
        while self.world.open() is None:
            pass  # A crash armed before the start killed it: start again.
        self.record.starts.append(self.world.loop.time())

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run one step of the model, then restart the bot if it crashed meanwhile."""
        type(self).coverage["steps"] += 1
        try:
            self.world.run(coroutine)
        finally:
            self._restart_if_crashed()

    def _restart_if_crashed(self) -> None:
        if not self.world.effects.crashed:
            return
        self.errors.muted = True
        try:
            self.world.crash()
        finally:
            self.errors.muted = False
        self._crashed()
        self._start()

    def _crashed(self) -> None:
        """What a model notes of a crash, before the next process starts."""

    async def _send(self, user: SimUser, text: str) -> None:
        if not user.chat.blocked:
            await user.send(text)
            await self._settle([])

    async def _taps(
        self, user: SimUser, data: str, times: int, made: list[Tap] | None = None
    ) -> None:
        """`times` taps on one button at the same moment, then until they are answered; the
        taps are added to `made`."""
        # A person taps buttons, and only messages with buttons have them (a pushed code has
        # none, so no tap can ever turn it into another screen).
        message = next((m for m in reversed(user.bot_messages) if m.buttons), None)
        if message is None or user.chat.blocked:
            return
        taps = [await user.tap_data(data, message=message) for _ in range(times)]
        if made is not None:
            made.extend(taps)
        await self._settle(taps)

    async def _settle(self, taps: Iterable[Tap]) -> None:
        """Until the bot has taken the updates, answered the taps and finished handling them
        (or crashed); a person waits that long before the next tap, at most ANSWER_WAIT."""
        deadline = self.world.loop.time() + ANSWER_WAIT
        pending = list(taps)
        while self.world.loop.time() < deadline and not self.world.effects.crashed:
            await asyncio.sleep(0.05)
            pending = [t for t in pending if t.answer is None]
            app = self.world.app
            busy = app is not None and app.dp["in_flight"].running
            if not pending and not busy and not self.world.telegram.pending_updates:
                break

    def _count(self, name: str) -> None:
        type(self).coverage[name] += 1

    @invariant()
    @guarded
    def nothing_unhandled(self) -> None:
        records = [f"{r.name}: {r.getMessage()}" for r in self.errors.records]
        assert not records, records
        # Without the garbage collection loop_errors() does: that costs a tenth of a second.
        assert not self.world.loop.exception_events, self.world.loop.exception_events

    @invariant()
    @guarded
    def within_smsmans_limit(self) -> None:
        refused = self.world.smsman.rate_refusals
        assert not refused, f"SMS-man refused {refused} requests over SMSMAN_MAX_RPS"

    @invariant()
    @guarded
    def within_telegrams_limits(self) -> None:
        flood = self.world.telegram.flood
        assert flood is not None
        assert not flood.refusals, f"Telegram answered sends with 429 at {flood.refusals}"

    def teardown(self) -> None:
        try:
            if not self.broken:
                self._finish()
        finally:
            logging.getLogger().removeHandler(self.errors)
            self.world.close()
            shutil.rmtree(self.directory, ignore_errors=True)

    def _finish(self) -> None:
        """At the end of an example: what must hold once the world is healed."""
