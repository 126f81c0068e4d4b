"""menu_latency: tap → edited menu and typed search → picker, in-process, on a large catalog."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

from benchmarks.catalog import large_catalog, shared_starts
from benchmarks.common import (
    FIRST_USER_ID,
    SMSMAN_TOKEN,
    UNPACED,
    Result,
    emulators,
    percentile,
    progress,
    seed_orders,
    verdict,
    workdir,
)
from bot.config import Settings
from bot.factory import Application
from bot.person_rates import SEARCHES_PER_SECOND
from emulators.smsman import SmsManEmulator
from emulators.telegram import DEFAULT_TOKEN, Call, ChatMessage, SimUser, TelegramEmulator
from keyboards.callbacks import AppsCb, CountriesCb, MenuAction, MenuCb

TARGET_MS = 20.0
SOLD = 20
RATE = 200
STEP_TIMEOUT = 30.0
# Bot API calls that show a screen: an edited menu, or a new message for typed text.
DRAWS = frozenset({"editMessageText", "sendMessage"})
SEARCHES = 4


@dataclass(frozen=True)
class Size:
    countries: int
    apps: int
    # Countries whose app picker the person opens, in turn; their prices are cached while
    # warming up, as they would be after anyone looked at them.
    opened: int
    rounds: int


FULL = Size(countries=200, apps=1_000, opened=5, rounds=30)
SMOKE = Size(countries=40, apps=60, opened=2, rounds=2)


@dataclass(frozen=True)
class Step:
    kind: str
    ms: float


class Handled(BaseMiddleware):
    """Counts the updates the dispatcher is done with, so no step starts before the last ended."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Event()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        finally:
            self.count += 1
            self._changed.set()

    async def reach(self, count: int) -> None:
        async with asyncio.timeout(STEP_TIMEOUT):
            while self.count < count:
                self._changed.clear()
                await self._changed.wait()


class StandingClock:
    """The bot's clock: it stands still, as in the tests' run_bot, so every measured step reads
    warm caches (cached prices would expire after a minute of wall time), and moves only when
    the person types, by what the bot's limit on typed searches asks between two."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def before_a_search(self) -> None:
        self.now += 1 / SEARCHES_PER_SECOND


class Person:
    """One person working the menus, one step at a time, each timed from its update being
    queued at the Telegram emulator to the bot's redraw arriving there."""

    def __init__(
        self, telegram: TelegramEmulator, user: SimUser, handled: Handled, clock: StandingClock
    ) -> None:
        self.telegram = telegram
        self.user = user
        self.handled = handled
        self.clock = clock
        self.updates = 0
        self.picker: ChatMessage | None = None

    async def open_picker(self) -> None:
        """/start, then Buy a number: the menu message turns into the country picker."""
        await self._step(lambda: self.telegram.user_sends(self.user.chat, "/start"))
        menu = self.user.last_bot_message
        if menu is None:
            raise RuntimeError("/start was not answered")
        buy = MenuCb(action=MenuAction.BUY).pack()
        await self._step(lambda: self.telegram.user_taps(self.user.chat, menu, buy))
        self.picker = menu

    async def tap(self, data: str) -> float:
        picker = self.picker
        if picker is None:
            raise RuntimeError("no picker open")
        ms, _draw = await self._step(lambda: self.telegram.user_taps(self.user.chat, picker, data))
        return ms

    async def search(self, text: str) -> float:
        self.clock.before_a_search()
        ms, answer = await self._step(lambda: self.telegram.user_sends(self.user.chat, text))
        if "🔎" not in str(answer.params.get("text")):
            raise RuntimeError(f"searching {text!r} did not list matches")
        return ms

    async def _step(self, act: Callable[[], object]) -> tuple[float, Call]:
        """Queue one update; the milliseconds until its redraw arrives, and that call."""
        since = len(self.telegram.calls)
        queued_at = time.monotonic()
        act()
        self.updates += 1
        draw = await self.telegram.wait_until(
            lambda: next((c for c in self.telegram.calls[since:] if c.method in DRAWS), None),
            timeout=STEP_TIMEOUT,
        )
        await self.handled.reach(self.updates)
        return (draw.time - queued_at) * 1000, draw


async def browse(person: Person, country: int, country_search: str, app_search: str) -> list[Step]:
    """One round: flip the countries, search them, open one, flip its apps, search, go back."""
    steps = [Step("country page", await person.tap(CountriesCb(page=n).pack())) for n in (1, 2, 3)]
    steps.append(Step("country search", await person.search(country_search)))
    steps.append(Step("app picker", await person.tap(AppsCb(country=country, page=0).pack())))
    steps += [
        Step("app page", await person.tap(AppsCb(country=country, page=n).pack()))
        for n in (1, 2, 3)
    ]
    steps.append(Step("app search", await person.search(app_search)))
    steps.append(Step("country page", await person.tap(CountriesCb(page=0).pack())))
    return steps


def bot_settings(
    tmp: Path, telegram: TelegramEmulator, smsman: SmsManEmulator, user_id: int
) -> Settings:
    values: dict[str, Any] = {
        "bot_token": DEFAULT_TOKEN,
        "smsman_token": SMSMAN_TOKEN,
        "telegram_api_url": telegram.base_url,
        "smsman_api_url": smsman.control_url,
        "database_path": tmp / "bot.sqlite3",
        "allowed_user_ids": [user_id],
        "smsman_max_rps": RATE,
    }
    values |= {name.lower(): value for name, value in UNPACED.items()}
    return Settings(_env_file=None, **values)


async def run(smoke: bool) -> list[Result]:
    size = SMOKE if smoke else FULL
    progress(f"menu_latency: {size.countries} countries x {size.apps} apps")
    catalog = large_catalog(size.countries, size.apps)
    countries = list(catalog.countries)
    opened = countries[:: len(countries) // size.opened][: size.opened]
    country_searches = shared_starts((c.title for c in catalog.countries.values()), SEARCHES)
    app_searches = shared_starts((a.title for a in catalog.applications.values()), SEARCHES)
    clock = StandingClock()
    async with workdir() as tmp, emulators(catalog, smsman_rate=RATE) as (telegram, smsman):
        user = telegram.user(FIRST_USER_ID)
        # Other people's purchases, so the pickers' first pages carry this bot's most bought.
        await seed_orders(tmp / "bot.sqlite3", smsman, SOLD, [FIRST_USER_ID + 1])
        app = await Application.open(bot_settings(tmp, telegram, smsman, user.id), clock=clock)
        handled = Handled()
        app.dp.update.outer_middleware(handled)
        polling = asyncio.create_task(app.run_polling(handle_signals=False))
        try:
            person = Person(telegram, user, handled, clock)
            await person.open_picker()

            def round_of(n: int) -> Awaitable[list[Step]]:
                return browse(
                    person,
                    opened[n % len(opened)],
                    country_searches[n % len(country_searches)],
                    app_searches[n % len(app_searches)],
                )

            # Warm-up: every opened country's prices fetched, every search typed once.
            for n in range(max(len(opened), SEARCHES)):
                await round_of(n)
            progress(f"menu_latency: {size.rounds} rounds of taps and searches")
            steps = [step for n in range(size.rounds) for step in await round_of(n)]
        finally:
            await app.stop_polling()
            await polling
            await app.close()
    return [report(size, steps)]


def report(size: Size, steps: Sequence[Step]) -> Result:
    every = [step.ms for step in steps]
    p50, p95 = percentile(every, 50), percentile(every, 95)
    fields: dict[str, int | float] = {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}
    by_kind: dict[str, list[float]] = {}
    for step in steps:
        by_kind.setdefault(step.kind, []).append(step.ms)
    kinds = ", ".join(
        f"{kind} {percentile(ms, 50):.1f}/{percentile(ms, 95):.1f}" for kind, ms in by_kind.items()
    )
    summary = [
        f"menu_latency, {size.countries} countries x {size.apps} apps: p50 {p50:.1f} ms, "
        f"p95 {p95:.1f} ms (target p95 <= {TARGET_MS:.0f} ms: {verdict(p95 <= TARGET_MS)})",
        f"  {len(steps)} steps, bot and emulators in one event loop; p50/p95 ms by step: {kinds}",
    ]
    return Result("menu_latency", fields, summary)
