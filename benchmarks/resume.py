"""resume_and_memory: from start to polling 10,000 orders restored from sqlite, and peak RSS."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from benchmarks.common import (
    FIRST_USER_ID,
    START_TIMEOUT,
    UNPACED,
    Result,
    bot_env,
    emulators,
    progress,
    seed_orders,
    spawn,
    verdict,
    workdir,
)

USERS = 100
RATE = 200
TARGET_S = 2.0
TARGET_MB = 150.0


@dataclass(frozen=True)
class Size:
    orders: int
    # How long the bot polls before its peak RSS is read.
    polling_s: float


FULL = Size(orders=10_000, polling_s=10.0)
SMOKE = Size(orders=200, polling_s=1.0)


async def run(smoke: bool) -> list[Result]:
    size = SMOKE if smoke else FULL
    async with workdir() as tmp, emulators(smsman_rate=RATE) as (telegram, smsman):
        users = [telegram.user(FIRST_USER_ID + n) for n in range(USERS)]
        progress(f"resume_and_memory: seeding {size.orders} open orders")
        await seed_orders(tmp / "bot.sqlite3", smsman, size.orders, [user.id for user in users])
        env = bot_env(
            telegram,
            smsman,
            tmp / "bot.sqlite3",
            [user.id for user in users],
            POLL_INTERVAL_SECONDS="1",
            SMSMAN_MAX_RPS=str(RATE),
            **UNPACED,
        )
        progress("resume_and_memory: starting the bot")
        async with spawn(
            "bot", ["-m", "benchmarks.resume_child"], env=env, cwd=tmp, stdout=True
        ) as bot:
            figure = await asyncio.wait_for(bot.read_json(), START_TIMEOUT)
            if figure["scheduled"] != size.orders:
                raise RuntimeError(f"the bot scheduled {figure['scheduled']} of {size.orders}")
            polling_from = time.monotonic()
            await asyncio.sleep(size.polling_s)
            bot.check_alive()
            peak_mb = bot.peak_rss_mb()
            polling_until = time.monotonic()
        polls = [
            call
            for call in smsman.calls
            if call.endpoint == "get-sms" and polling_from <= call.time <= polling_until
        ]
    resume_s = figure["resume_s"]
    fields: dict[str, int | float] = {
        "orders": size.orders,
        "resume_s": round(resume_s, 3),
        "peak_rss_mb": round(peak_mb, 1),
    }
    summary = [
        f"resume_and_memory, {size.orders} orders: polling {resume_s:.2f} s after start "
        f"(target <= {TARGET_S:.0f} s: {verdict(resume_s <= TARGET_S)}); peak RSS "
        f"{peak_mb:.0f} MiB (target <= {TARGET_MB:.0f} MB: {verdict(peak_mb <= TARGET_MB)})",
        "  timed in the bot process, imports excluded: Application.open (sqlite, i18n, "
        "clients), the dispatcher's start-up (getMe, setMyCommands, interrupted purchases, "
        "every open order read and scheduled) and the first get-sms handed to httpx",
        f"  peak RSS is VmHWM after {size.polling_s:.0f} s of polling ({len(polls)} get-sms), "
        f"start-up included; {figure['imports_mb']:.0f} MiB of it were already held after the "
        "imports, before Application.open",
    ]
    return [Result("resume_and_memory", fields, summary)]
