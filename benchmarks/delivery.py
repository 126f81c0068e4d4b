"""delivery_latency: an SMS reaching the provider → its code's sendMessage, and the request rate."""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.common import (
    FIRST_USER_ID,
    UNPACED,
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
from emulators.smsman import SmsManEmulator
from emulators.telegram import TelegramEmulator

INTERVAL = 1.0
RATE = 200
USERS = 100
CODE = re.compile(r"<code>(\d+)</code>")
# Fixed, so two runs inject the same codes at the same moments.
SEED = 20_240_601


@dataclass(frozen=True)
class Case:
    orders: int
    # Each order gets one SMS at a uniformly random moment within this many seconds.
    spread_s: float

    @property
    def bound_s(self) -> float:
        """The best any poller can do: one interval, or one round of all orders at the rate."""
        return max(INTERVAL, self.orders / RATE)

    @property
    def target_s(self) -> float:
        return 1.1 * self.bound_s + 0.2


FULL = (Case(100, 30.0), Case(2_000, 30.0))
SMOKE = (Case(10, 2.0),)


async def run(smoke: bool) -> list[Result]:
    return [await run_case(case) for case in (SMOKE if smoke else FULL)]


async def run_case(case: Case) -> Result:
    async with workdir() as tmp, emulators(smsman_rate=RATE) as (telegram, smsman):
        users = [telegram.user(FIRST_USER_ID + n) for n in range(min(USERS, case.orders))]
        progress(f"delivery_latency: {case.orders} open orders for {len(users)} people")
        request_ids = await seed_orders(
            tmp / "bot.sqlite3", smsman, case.orders, [user.id for user in users]
        )
        env = bot_env(
            telegram,
            smsman,
            tmp / "bot.sqlite3",
            [user.id for user in users],
            POLL_INTERVAL_SECONDS=str(INTERVAL),
            SMSMAN_MAX_RPS=str(RATE),
            **UNPACED,
        )
        async with spawn("bot", ["-m", "bot"], env=env, cwd=tmp) as bot:
            polling_at = await wait_for_polling(telegram, bot)
            # From here on: start-up is not part of the CPU per poll.
            cpu = bot.cpu_seconds()
            progress(f"delivery_latency: injecting {case.orders} SMS over {case.spread_s:.0f} s")
            injected = await inject(smsman, request_ids, case.spread_s)
            pushed = await wait_for_pushes(telegram, bot, injected, 3 * case.bound_s + 10)
            cpu = bot.cpu_seconds() - cpu
            ended_at = time.monotonic()
            provider_calls, refused = smsman.calls, smsman.rate_refusals
    polls = [
        call
        for call in provider_calls
        if call.endpoint == "get-sms" and polling_at <= call.time <= ended_at
    ]
    # A code that never came counts as arriving when the wait ended: a lower bound, and flagged.
    latencies = [pushed.get(code, ended_at) - at for code, at in injected.items()]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    # As SMS-man would count: on arrival.
    busiest = busiest_second(call.arrived for call in provider_calls)
    fields: dict[str, int | float] = {
        "orders": case.orders,
        "p50_s": round(p50, 3),
        "p99_s": round(p99, 3),
        "bound_s": round(case.bound_s, 3),
        "p99_over_bound": round(p99 / case.bound_s, 3),
        "max_rps_seen": busiest,
        "rate_limit": RATE,
        "refused": refused,
        "cpu_s_per_1000_polls": round(cpu / len(polls) * 1000, 3),
    }
    pushes_per_code = Counter(code for code, _at in pushes(telegram))
    missing = len(injected.keys() - pushed.keys())
    repeated = sum(1 for code in injected if pushes_per_code[code] > 1)
    window = ended_at - polling_at
    # What the provider saw of the pacing: the limiter holds a unit a second after each answer.
    starts = sorted(call.arrived for call in provider_calls)
    gap_ms = statistics.median(b - a for a, b in itertools.pairwise(starts)) * 1000
    summary = [
        f"delivery_latency, {case.orders} orders: p50 {p50:.2f} s, p99 {p99:.2f} s, bound "
        f"{case.bound_s:.2f} s (target p99 <= {case.target_s:.2f} s: "
        f"{verdict(p99 <= case.target_s)}); busiest second {busiest} provider requests "
        f"(limit {RATE}: {verdict(busiest <= RATE)}), {refused} refused",
        f"  {len(polls)} get-sms polls in {window:.1f} s ({len(polls) / window:.0f}/s), median "
        f"gap between provider requests {gap_ms:.1f} ms; "
        f"bot CPU {cpu:.1f} s ({cpu / window:.0%} of a core); "
        f"{len(injected) - missing}/{len(injected)} codes pushed, {repeated} more than once",
    ]
    return Result("delivery_latency", fields, summary)


async def inject(
    smsman: SmsManEmulator, request_ids: Sequence[int], spread_s: float
) -> dict[str, float]:
    """One SMS per request at a random moment within `spread_s`; returns code → its arrival."""
    rng = random.Random(SEED)
    codes = rng.sample(range(100_000, 1_000_000), len(request_ids))
    plan = sorted(
        (rng.uniform(0, spread_s), request_id, str(code))
        for request_id, code in zip(request_ids, codes, strict=True)
    )
    start = time.monotonic()
    injected: dict[str, float] = {}
    for offset, request_id, code in plan:
        await asyncio.sleep(max(0.0, start + offset - time.monotonic()))
        smsman.deliver_sms(request_id, code)
        injected[code] = time.monotonic()
    return injected


async def wait_for_pushes(
    telegram: TelegramEmulator, bot: Child, injected: dict[str, float], give_up_after: float
) -> dict[str, float]:
    """code → arrival of its first push, once every code came or `give_up_after` s passed."""
    deadline = time.monotonic() + give_up_after
    while True:
        pushed: dict[str, float] = {}
        for code, at in pushes(telegram):
            pushed.setdefault(code, at)
        if injected.keys() <= pushed.keys() or time.monotonic() > deadline:
            return pushed
        bot.check_alive()
        await asyncio.sleep(0.1)


def pushes(telegram: TelegramEmulator) -> list[tuple[str, float]]:
    """(code, arrival) of every sendMessage that carries a code, oldest first."""
    return [
        (found.group(1), call.time)
        for call in telegram.calls
        if call.method == "sendMessage" and (found := CODE.search(str(call.params.get("text"))))
    ]
