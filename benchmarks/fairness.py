"""fairness: polite people's codes and taps while fifty strangers flood a public bot, against
the same case without the flood, in the same invocation."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.budget import TAPPER_ID, Tapper, watch
from benchmarks.catalog import large_catalog, shared_starts
from benchmarks.common import (
    FIRST_USER_ID,
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
from emulators.smsman import Catalog
from emulators.telegram import ChatMessage, SimUser, TelegramEmulator
from keyboards.callbacks import AppsCb

INTERVAL = 1
RATE = 200
# People who own the open orders: a code comes for some of them during the run.
OWNERS = 100
FLOOD_FIRST_ID = FIRST_USER_ID + 50_000
DELIVERY_RATIO_TARGET = 1.2
TAP_TARGET_MS = 300.0
RSS_GROWTH_TARGET_MB = 20.0
FILE_GROWTH_TARGET_MB = 1.0
TELEGRAM_RATE = 30
# A public bot: anyone may browse and buy.
SETTINGS = {
    "POLL_INTERVAL_SECONDS": str(INTERVAL),
    "SMSMAN_MAX_RPS": str(RATE),
    "OPEN_TO_ALL": "true",
}
SEED = 20_261_208


@dataclass(frozen=True)
class Size:
    orders: int
    sms: int
    spread_s: float
    flooders: int
    # Updates a second each flooder sends, without waiting for any answer.
    flood_per_s: float
    # Of the catalog: every country's app list is an uncached get-prices at first.
    countries: int
    apps: int
    # Runs of each case, alternating; figures that move between runs are judged by the median.
    rounds: int

    @property
    def bound_s(self) -> float:
        return max(INTERVAL, self.orders / RATE)


FULL = Size(
    orders=2_000,
    sms=300,
    spread_s=30.0,
    flooders=50,
    flood_per_s=2.0,
    countries=200,
    apps=60,
    rounds=3,
)
SMOKE = Size(
    orders=10, sms=3, spread_s=1.0, flooders=2, flood_per_s=2.0, countries=12, apps=5, rounds=1
)


@dataclass(frozen=True)
class Run:
    flood: bool
    code_latencies: list[float]
    taps_ms: list[float]
    sends: list[float]
    retries_429: int
    provider_calls: list[float]
    provider_refused: int
    peak_rss_mb: float
    file_growth_mb: float
    flood_updates: int

    @property
    def p99_s(self) -> float:
        return percentile(self.code_latencies, 99)

    @property
    def tap_p95_ms(self) -> float:
        return percentile(self.taps_ms, 95)


class Flooder:
    """A stranger sending updates at a steady pace, never waiting for an answer: taps on the
    app lists of countries in turn (each an uncached get-prices at first), /start, searches."""

    def __init__(self, user: SimUser, size: Size, searches: list[str], rng: random.Random) -> None:
        self.user = user
        self.sent = 0
        self._size = size
        self._searches = searches
        self._rng = rng

    async def run(self, stop: asyncio.Event) -> None:
        await self.user.send("/start")
        try:
            menu: ChatMessage | None = await self.user.wait_for_text("Hi,", timeout=30)
        except TimeoutError:
            menu = None  # A flooder the bot did not answer still sends texts.
        every = 1 / self._size.flood_per_s
        # Spread over the first interval, so fifty do not send in step.
        await asyncio.sleep(self._rng.uniform(0, every))
        while not stop.is_set():
            started = time.monotonic()
            kind = self._rng.choice(("apps", "apps", "start", "search"))
            if kind == "apps" and menu is not None:
                country = self._rng.randint(1, self._size.countries)
                await self.user.tap_data(AppsCb(country=country, page=0).pack(), message=menu)
            elif kind == "search":
                await self.user.send(self._rng.choice(self._searches))
            else:
                await self.user.send("/start")
            self.sent += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, started + every - time.monotonic()))


async def run(smoke: bool) -> list[Result]:
    size = SMOKE if smoke else FULL
    runs: list[Run] = []
    for round_ in range(size.rounds):
        for flood in (False, True):
            progress(
                f"fairness: round {round_ + 1}/{size.rounds}, {'with' if flood else 'no'} flood"
            )
            runs.append(await run_case(size, flood=flood))
    return [result(size, runs)]


async def run_case(size: Size, *, flood: bool) -> Run:
    catalog = large_catalog(size.countries, size.apps)
    async with workdir() as tmp, emulators(catalog, smsman_rate=RATE) as (telegram, smsman):
        database = tmp / "bot.sqlite3"
        owners = [telegram.user(FIRST_USER_ID + n).id for n in range(min(OWNERS, size.orders))]
        request_ids = await seed_orders(database, smsman, size.orders, owners, cards=telegram)
        seeded_mb = file_mb(database)
        limits = telegram.enforce_limits()
        env = bot_env(telegram, smsman, database, [*owners, TAPPER_ID], **SETTINGS)
        async with spawn("bot", ["-m", "bot"], env=env, cwd=tmp) as bot:
            await wait_for_polling(telegram, bot)
            tapper = Tapper(telegram)
            await tapper.start()
            stop = asyncio.Event()
            flooders = start_flood(telegram, size, catalog_searches(catalog), stop) if flood else []
            tasks = [asyncio.create_task(f.run(stop)) for f in flooders]
            # One round of polls first, so the SMS meet the poller (and the flood) in stride.
            await watch(bot, size.bound_s)
            calls_from = len(smsman.calls)
            sms = random.Random(SEED).sample(request_ids, size.sms)
            injected = await inject(smsman, sms, size.spread_s)
            pushed = await wait_for_pushes(telegram, bot, injected, 3 * size.bound_s + 30)
            stop.set()
            await asyncio.gather(*tasks)
            taps = await tapper.stop()
            peak = bot.peak_rss_mb()
            calls = [call.time for call in smsman.calls[calls_from:]]
            refused = smsman.rate_refusals
        growth = file_mb(database) - seeded_mb
    ended = time.monotonic()
    latencies = [pushed.get(code, ended) - at for code, at in injected.items()]
    return Run(
        flood=flood,
        code_latencies=latencies,
        taps_ms=taps,
        sends=list(limits.sent),
        retries_429=limits.refused,
        provider_calls=calls,
        provider_refused=refused,
        peak_rss_mb=peak,
        file_growth_mb=growth,
        flood_updates=sum(f.sent for f in flooders),
    )


def start_flood(
    telegram: TelegramEmulator, size: Size, searches: list[str], stop: asyncio.Event
) -> list[Flooder]:
    rng = random.Random(SEED)
    return [
        Flooder(telegram.user(FLOOD_FIRST_ID + n), size, searches, random.Random(rng.random()))
        for n in range(size.flooders)
    ]


def catalog_searches(catalog: Catalog) -> list[str]:
    """Three letters that start several countries' or apps' names: a search lists matches."""
    titles = [c.title for c in catalog.countries.values()]
    titles += [a.title for a in catalog.applications.values()]
    return shared_starts(titles, 10) or ["a"]


def file_mb(database: Path) -> float:
    """The database's size with its write-ahead log folded in and truncated."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return database.stat().st_size / 2**20


def result(size: Size, runs: list[Run]) -> Result:
    calm = [r for r in runs if not r.flood]
    flooded = [r for r in runs if r.flood]
    calm_p99 = statistics.median(r.p99_s for r in calm)
    flood_p99 = statistics.median(r.p99_s for r in flooded)
    ratio = flood_p99 / calm_p99
    tap_p95 = statistics.median(r.tap_p95_ms for r in flooded)
    calm_tap_p95 = statistics.median(r.tap_p95_ms for r in calm)
    retries = sum(r.retries_429 for r in runs)
    busiest_provider = max(busiest_second(r.provider_calls) for r in runs)
    refused = sum(r.provider_refused for r in runs)
    sends = max(busiest_second(r.sends) for r in runs)
    calm_rss = statistics.median(r.peak_rss_mb for r in calm)
    flood_rss = statistics.median(r.peak_rss_mb for r in flooded)
    rss_growth = flood_rss - calm_rss
    file_growth = max(r.file_growth_mb for r in flooded)
    fields: dict[str, int | float | str] = {
        "orders": size.orders,
        "sms": size.sms,
        "flooders": size.flooders,
        "rounds": size.rounds,
        "calm_p99_s": round(calm_p99, 3),
        "flood_p99_s": round(flood_p99, 3),
        "p99_ratio": round(ratio, 3),
        "calm_tap_p95_ms": round(calm_tap_p95, 1),
        "flood_tap_p95_ms": round(tap_p95, 1),
        "retries_429": retries,
        "max_sends_per_s": sends,
        "max_provider_rps": busiest_provider,
        "provider_refused": refused,
        "calm_peak_rss_mb": round(calm_rss, 1),
        "flood_peak_rss_mb": round(flood_rss, 1),
        "file_growth_mb": round(file_growth, 3),
        "flood_updates": round(statistics.median(r.flood_updates for r in flooded)),
    }
    checks = {
        "p99": ratio <= DELIVERY_RATIO_TARGET,
        "tap": tap_p95 <= TAP_TARGET_MS,
        "429": retries == 0,
        "provider": busiest_provider <= RATE and refused == 0,
        "rss": rss_growth <= RSS_GROWTH_TARGET_MB,
        "file": file_growth <= FILE_GROWTH_TARGET_MB,
    }
    summary = [
        f"fairness: {size.orders} open orders, {size.sms} SMS over {size.spread_s:.0f} s, "
        f"{size.flooders} people flooding at {size.flood_per_s:g} updates/s each, median of "
        f"{size.rounds} runs (targets: {verdict(all(checks.values()))})",
        f"  polite codes p99 {flood_p99:.2f} s with the flood, {calm_p99:.2f} s without "
        f"(ratio {ratio:.2f}, target <= {DELIVERY_RATIO_TARGET}: {verdict(checks['p99'])})",
        f"  polite tap p95 {tap_p95:.0f} ms with the flood ({calm_tap_p95:.0f} ms without; "
        f"target <= {TAP_TARGET_MS:.0f} ms: {verdict(checks['tap'])})",
        f"  Telegram: {retries} 429s, busiest second {sends} sends (targets 0, <= "
        f"{TELEGRAM_RATE}: {verdict(checks['429'] and sends <= TELEGRAM_RATE)}); SMS-man: "
        f"busiest second {busiest_provider} requests, {refused} refused (targets <= {RATE}, "
        f"0: {verdict(checks['provider'])})",
        f"  the flood's cost: peak RSS {rss_growth:+.1f} MB (target <= "
        f"{RSS_GROWTH_TARGET_MB:.0f}: {verdict(checks['rss'])}), sqlite file +{file_growth:.2f}"
        f" MB during a flooded run (target <= {FILE_GROWTH_TARGET_MB:.0f}: "
        f"{verdict(checks['file'])})",
    ]
    return Result("fairness", fields, summary)
