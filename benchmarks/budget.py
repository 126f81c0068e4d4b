"""telegram_budget: the bot against Telegram's send limits, with many open orders and a burst."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from benchmarks.common import (
    FIRST_USER_ID,
    Child,
    Result,
    bot_env,
    busiest_second,
    emulators,
    percentile,
    progress,
    seed_orders,
    spawn,
    verdict,
    wait_for_polling,
    workdir,
)
from benchmarks.delivery import inject, wait_for_pushes
from emulators.telegram import ChatMessage, SimUser, TelegramEmulator
from emulators.telegram.flood import FloodLimits

INTERVAL = 1
RATE = 200
# Telegram's overall limit, which the burst's bound is drawn from.
TELEGRAM_RATE = 30
TAP_EVERY_S = 2.0
TAPPER_ID = FIRST_USER_ID - 1
STEP_TIMEOUT = 30.0
TAP_TARGET_MS = 300
# Telegram's own limits (the settings' defaults) are what is measured: nothing is raised.
SETTINGS = {"POLL_INTERVAL_SECONDS": str(INTERVAL), "SMSMAN_MAX_RPS": str(RATE)}
BURST_TARGET = 1.15


@dataclass(frozen=True)
class Steady:
    orders: int
    people: int
    duration_s: float


@dataclass(frozen=True)
class Burst:
    orders: int
    codes: int

    @property
    def bound_s(self) -> float:
        """Whichever side is slower: Telegram's 30 a second, or one round of polls."""
        return max(self.codes / TELEGRAM_RATE, self.orders / RATE)


FULL = (Steady(orders=10_000, people=2_000, duration_s=65.0), Burst(orders=2_000, codes=1_000))
SMOKE = (Steady(orders=100, people=20, duration_s=3.0), Burst(orders=60, codes=40))


class Tapper:
    """A person paging through the country picker all along, a tap every two seconds, each
    timed from the tap to both its answer and the redrawn menu at the Telegram emulator."""

    def __init__(self, telegram: TelegramEmulator) -> None:
        self.user: SimUser = telegram.user(TAPPER_ID)
        self.taps_ms: list[float] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.user.send("/start")
        await self.user.wait_for_text("Hi,", timeout=STEP_TIMEOUT)
        await (await self.user.tap("Buy a number")).answered(timeout=STEP_TIMEOUT)
        picker = await self.user.wait_for_text("Choose a country", timeout=STEP_TIMEOUT)
        self._task = asyncio.create_task(self._tap_along(picker))

    async def stop(self) -> list[float]:
        self._stop.set()
        if self._task is not None:
            await self._task
        return self.taps_ms

    async def _tap_along(self, picker: ChatMessage) -> None:
        loop = asyncio.get_running_loop()
        # Opening the picker took two messages already: the first flip comes a pause later.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), TAP_EVERY_S)
        for turn in range(1_000_000):
            if self._stop.is_set():
                return
            started = loop.time()
            drawn = picker.edited

            def redrawn(_user: SimUser, drawn: int = drawn) -> bool | None:
                return picker.edited > drawn or None

            tap = await self.user.tap("›" if turn % 2 == 0 else "‹", exact=True, message=picker)
            await tap.answered(timeout=STEP_TIMEOUT)
            await self.user.wait_for(redrawn, timeout=STEP_TIMEOUT, waiting_for="the next page")
            self.taps_ms.append((loop.time() - started) * 1000)
            pause = started + TAP_EVERY_S - loop.time()
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), pause)


async def run(smoke: bool) -> list[Result]:
    steady, burst = SMOKE if smoke else FULL
    return [await run_steady(steady), await run_burst(burst)]


async def run_steady(case: Steady) -> Result:
    async with workdir() as tmp, emulators(smsman_rate=RATE) as (telegram, smsman):
        people = [telegram.user(FIRST_USER_ID + n).id for n in range(case.people)]
        progress(f"telegram_budget: {case.orders} open orders with cards for {case.people} people")
        await seed_orders(tmp / "bot.sqlite3", smsman, case.orders, people, cards=telegram)
        limits = telegram.enforce_limits()
        env = bot_env(telegram, smsman, tmp / "bot.sqlite3", [*people, TAPPER_ID], **SETTINGS)
        async with spawn("bot", ["-m", "bot"], env=env, cwd=tmp) as bot:
            started = await wait_for_polling(telegram, bot)
            tapper = Tapper(telegram)
            await tapper.start()
            progress(f"telegram_budget: steady for {case.duration_s:.0f} s, a tap every 2 s")
            await watch(bot, case.duration_s)
            taps = await tapper.stop()
            duration = time.monotonic() - started
    fields: dict[str, int | float | str] = {
        "case": "steady",
        "open_orders": case.orders,
        "duration_s": round(duration, 1),
        "max_sends_per_s": busiest_second(limits.sent),
        "retries_429": limits.refused,
        "tap_p95_ms": round(percentile(taps, 95), 1),
    }
    return Result("telegram_budget", fields, steady_summary(case, duration, limits, taps))


async def run_burst(case: Burst) -> Result:
    async with workdir() as tmp, emulators(smsman_rate=RATE) as (telegram, smsman):
        people = [telegram.user(FIRST_USER_ID + n).id for n in range(case.orders)]
        progress(f"telegram_budget: {case.orders} open orders with cards, one per person")
        requests = await seed_orders(
            tmp / "bot.sqlite3", smsman, case.orders, people, cards=telegram
        )
        limits = telegram.enforce_limits()
        env = bot_env(telegram, smsman, tmp / "bot.sqlite3", [*people, TAPPER_ID], **SETTINGS)
        async with spawn("bot", ["-m", "bot"], env=env, cwd=tmp) as bot:
            await wait_for_polling(telegram, bot)
            tapper = Tapper(telegram)
            await tapper.start()
            # One round of polls first, so the burst meets the poller in its steady state.
            await watch(bot, case.orders / RATE)
            progress(f"telegram_budget: {case.codes} SMS within one second")
            chosen = requests[:: case.orders // case.codes][: case.codes]
            injected = await inject(smsman, chosen, 1.0)
            burst_at = min(injected.values())
            pushed = await wait_for_pushes(telegram, bot, injected, 3 * case.bound_s + 30)
            await cards_redrawn(telegram, bot, len(injected), 3 * case.bound_s + 30)
            taps = await tapper.stop()
    last = max(pushed.values(), default=burst_at) - burst_at
    fields: dict[str, int | float | str] = {
        "case": "burst",
        "open_orders": case.orders,
        "codes": len(pushed),
        "max_sends_per_s": busiest_second(limits.sent),
        "retries_429": limits.refused,
        "last_code_s": round(last, 2),
        "bound_s": round(case.bound_s, 2),
        "last_code_over_bound": round(last / case.bound_s, 3),
        "tap_p95_ms": round(percentile(taps, 95), 1),
    }
    if len(pushed) < len(injected):
        raise RuntimeError(f"only {len(pushed)} of {len(injected)} codes were pushed")
    summary = burst_summary(case, len(pushed), last, limits, taps)
    return Result("telegram_budget", fields, summary)


async def watch(bot: Child, seconds: float) -> None:
    """Let `seconds` pass, failing at once if the bot dies meanwhile."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        bot.check_alive()
        await asyncio.sleep(min(1.0, left))


async def cards_redrawn(
    telegram: TelegramEmulator, bot: Child, count: int, give_up_after: float
) -> None:
    """Until `count` cards were redrawn to show their code, so their edits are counted too."""
    deadline = time.monotonic() + give_up_after
    while time.monotonic() < deadline:
        redrawn = sum(
            1
            for call in telegram.calls_of("editMessageText")
            if call.ok and "Code received" in str(call.params.get("text"))
        )
        if redrawn >= count:
            return
        bot.check_alive()
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the cards of {count} codes were not all redrawn in {give_up_after} s")


def steady_summary(
    case: Steady, duration: float, limits: FloodLimits, taps: list[float]
) -> list[str]:
    sends, p95 = busiest_second(limits.sent), percentile(taps, 95)
    met = sends <= TELEGRAM_RATE and limits.refused == 0 and p95 <= TAP_TARGET_MS
    return [
        f"telegram_budget, steady: {case.orders} open orders for {duration:.0f} s, busiest "
        f"second {sends} sends and edits, {limits.refused} 429s, tap p95 {p95:.0f} ms "
        f"(targets <= 30, 0, <= 300 ms: {verdict(met)})",
        f"  {len(limits.sent)} sends and edits in all (the cards count down in the person's "
        f"app, not by edits); {len(taps)} taps",
    ]


def burst_summary(
    case: Burst, codes: int, last: float, limits: FloodLimits, taps: list[float]
) -> list[str]:
    sends, p95, ratio = busiest_second(limits.sent), percentile(taps, 95), last / case.bound_s
    met = (
        sends <= TELEGRAM_RATE
        and limits.refused == 0
        and p95 <= TAP_TARGET_MS
        and ratio <= BURST_TARGET
    )
    return [
        f"telegram_budget, burst: {codes} codes of {case.orders} open orders within a second, "
        f"last code after {last:.1f} s (bound {case.bound_s:.1f} s, ratio {ratio:.3f}); "
        f"busiest second {sends} sends and edits, {limits.refused} 429s, tap p95 {p95:.0f} ms "
        f"(targets ratio <= 1.15, <= 30, 0, <= 300 ms: {verdict(met)})",
        f"  {len(limits.sent)} sends and edits in all (a push and a card redraw per code); "
        f"{len(taps)} taps",
    ]
