"""update_throughput: page flips per second through the whole bot, and through a bare floor."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.common import (
    FIRST_USER_ID,
    START_TIMEOUT,
    UNPACED,
    Child,
    Result,
    bot_env,
    emulators,
    free_port,
    progress,
    spawn,
    verdict,
    wait_for_polling,
    wait_for_webhook,
    workdir,
)
from emulators.telegram import (
    DEFAULT_TOKEN,
    CallbackQuery,
    ChatMessage,
    SimUser,
    TelegramEmulator,
)

# The country picker's › and ‹, taken in turn: every update redraws the menu with new content.
FLIPS = ("c:1", "c:0")
TARGET_RATIO = 0.8
ANSWER_TIMEOUT = 120.0
STEP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Size:
    users: int
    updates: int
    rounds: int

    def __post_init__(self) -> None:
        # Each user gets an even number of flips, so every round ends on the page it began on.
        if self.updates % (2 * self.users):
            raise ValueError("updates must be a multiple of twice the users")


# Two flips a person at once: what the bot handles of one person at a time (bot.telegram.gate),
# so every update is a page drawn, not one waiting or answered without a word.
FULL = Size(users=500, updates=1000, rounds=7)
SMOKE = Size(users=10, updates=20, rounds=1)


@dataclass(frozen=True)
class Picker:
    user: SimUser
    message: ChatMessage


@dataclass(frozen=True)
class Round:
    per_s: float
    # Shares of one core during the round: the bot process, and this one (the emulators).
    bot_cpu: float
    emulator_cpu: float


async def run(smoke: bool) -> list[Result]:
    """Three bots run the whole time, each with its own instance of the Telegram emulator (one
    token cannot poll one server twice): ours long-polling, ours again in webhook mode (the
    emulator posting each update as the owner's proxy would), and the floor. They take turns,
    a round each. The ratio is the median of the rounds' ratios, each between runs seconds
    apart: a machine whose speed drifts (other tenants, CPU steal) then
    favours none, where a ratio of overall medians could pair a slow moment of one with a fast
    moment of another."""
    size = SMOKE if smoke else FULL
    async with (
        workdir() as tmp,
        emulators() as (telegram, smsman),
        TelegramEmulator(DEFAULT_TOKEN) as hook_telegram,
        TelegramEmulator(DEFAULT_TOKEN) as floor_telegram,
    ):
        ids = [FIRST_USER_ID + n for n in range(size.users)]
        env = bot_env(telegram, smsman, tmp / "bot.sqlite3", ids, **UNPACED)
        port = free_port()
        hook_telegram.webhook_proxy = f"http://127.0.0.1:{port}"
        hook_env = env | {
            "TELEGRAM_API_URL": hook_telegram.base_url,
            "DATABASE_PATH": str(tmp / "webhook.sqlite3"),
            "WEBHOOK_URL": "https://bot.example.com/hook",
            "WEBHOOK_SECRET": "benchmark-secret",
            "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        }
        floor_env = env | {"TELEGRAM_API_URL": floor_telegram.base_url}
        progress("update_throughput: starting the bot (polling, webhook) and the floor")
        async with (
            spawn("bot", ["-m", "bot"], env=env, cwd=tmp) as ours,
            spawn("webhook", ["-m", "bot"], env=hook_env, cwd=tmp) as hooked,
            spawn(
                "floor", ["-m", "benchmarks.floor"], env=floor_env, cwd=tmp, stdin=True, stdout=True
            ) as floor,
        ):
            await wait_for_polling(telegram, ours)
            ours_pickers = await open_pickers(telegram, ids, menu=True)
            # Warm-up: the catalog is cached and every code path has run once.
            pages = await flip_each(telegram, ours_pickers)

            await wait_for_webhook(hook_telegram, hooked)
            hook_pickers = await open_pickers(hook_telegram, ids, menu=True)
            await flip_each(hook_telegram, hook_pickers)

            await asyncio.wait_for(floor.read_json(), START_TIMEOUT)
            await floor.send_line(json.dumps(pages))
            await wait_for_polling(floor_telegram, floor)
            floor_pickers = await open_pickers(floor_telegram, ids, menu=False)
            await flip_each(floor_telegram, floor_pickers)

            progress(f"update_throughput: {size.rounds} x {size.updates} updates each, in turns")
            ours_rounds: list[Round] = []
            hook_rounds: list[Round] = []
            floor_rounds: list[Round] = []
            turns = [
                (hook_rounds, hook_telegram, hooked, hook_pickers),
                (ours_rounds, telegram, ours, ours_pickers),
                (floor_rounds, floor_telegram, floor, floor_pickers),
            ]
            for n in range(size.rounds):
                # The bot and the floor back to back, the one first in turn, so neither always
                # runs on the warmer machine and each ratio pairs moments seconds apart; the
                # webhook round on either side of them.
                order = turns if n % 2 == 0 else turns[::-1]
                for rounds, emulator, child, pickers in order:
                    rounds.append(await one_round(emulator, child, pickers, size.updates))
    return [report(size, ours_rounds, hook_rounds, floor_rounds)]


async def open_pickers(
    telegram: TelegramEmulator, ids: Sequence[int], *, menu: bool
) -> list[Picker]:
    """Each user's message showing the country picker: /start, then Buy a number in the bot's
    menu; the floor answers /start with the picker itself."""

    async def open_picker(user: SimUser) -> Picker:
        await user.send("/start")
        if menu:
            await user.wait_for_text("Hi,", timeout=STEP_TIMEOUT)
            await (await user.tap("Buy a number")).answered(timeout=STEP_TIMEOUT)
        return Picker(user, await user.wait_for_text("Choose a country", timeout=STEP_TIMEOUT))

    return list(await asyncio.gather(*(open_picker(telegram.user(id_)) for id_ in ids)))


async def flip_each(telegram: TelegramEmulator, pickers: Sequence[Picker]) -> dict[str, Any]:
    """Every picker › then ‹, one tap at a time; returns what the bot drew for each flip."""
    pages: dict[str, Any] = {}
    for picker in pickers:
        for data in FLIPS:
            since = len(telegram.calls)
            query = telegram.user_taps(picker.user.chat, picker.message, data)
            await answered(telegram, query)
            edits = [call for call in telegram.calls[since:] if call.method == "editMessageText"]
            if not edits:
                raise RuntimeError(f"{data!r} did not edit the picker")
            params = edits[0].params
            pages.setdefault(data, {"text": params["text"], "reply_markup": params["reply_markup"]})
    return pages


async def answered(telegram: TelegramEmulator, query: CallbackQuery) -> None:
    await telegram.wait_until(lambda: query.answer, timeout=STEP_TIMEOUT)


async def one_round(
    telegram: TelegramEmulator, bot: Child, pickers: Sequence[Picker], updates: int
) -> Round:
    """Queue every update at once, then time until the last one is answered."""
    since = len(telegram.calls)
    # Queued in one go with no await in between: the bot cannot see any before all are there.
    queries = [
        telegram.user_taps(picker.user.chat, picker.message, FLIPS[turn % 2])
        for turn in range(updates // len(pickers))
        for picker in pickers
    ]
    start = time.monotonic()
    bot_cpu, own_cpu = bot.cpu_seconds(), time.process_time()
    await all_answered(queries)
    bot_cpu, own_cpu = bot.cpu_seconds() - bot_cpu, time.process_time() - own_cpu
    last = max(c.time for c in telegram.calls[since:] if c.method == "answerCallbackQuery")
    elapsed = last - start
    return Round(len(queries) / elapsed, bot_cpu / elapsed, own_cpu / elapsed)


async def all_answered(queries: Sequence[CallbackQuery]) -> None:
    """Until every query has its answer; the end time comes from the emulator's call record,
    so checking every few milliseconds loses no precision."""
    deadline = time.monotonic() + ANSWER_TIMEOUT
    first_open = 0
    while first_open < len(queries):
        if queries[first_open].answer is not None:
            first_open += 1
        elif time.monotonic() > deadline:
            raise TimeoutError(f"{len(queries) - first_open} updates unanswered")
        else:
            await asyncio.sleep(0.005)


def report(size: Size, ours: list[Round], hooked: list[Round], floor: list[Round]) -> Result:
    ours_per_s = statistics.median(r.per_s for r in ours)
    hook_per_s = statistics.median(r.per_s for r in hooked)
    floor_per_s = statistics.median(r.per_s for r in floor)
    ratios = [o.per_s / f.per_s for o, f in zip(ours, floor, strict=True)]
    ratio = statistics.median(ratios)
    hook_ratio = statistics.median(h.per_s / o.per_s for h, o in zip(hooked, ours, strict=True))
    fields: dict[str, int | float] = {
        "ours_per_s": round(ours_per_s, 1),
        "floor_per_s": round(floor_per_s, 1),
        "ratio": round(ratio, 3),
        "webhook_per_s": round(hook_per_s, 1),
        "webhook_vs_polling": round(hook_ratio, 3),
    }

    def listed(values: Sequence[float], spec: str) -> str:
        return ", ".join(format(value, spec) for value in values)

    summary = [
        f"update_throughput: the bot {ours_per_s:.0f} updates/s, the aiogram floor "
        f"{floor_per_s:.0f}/s, ratio {ratio:.2f} "
        f"(target >= {TARGET_RATIO}: {verdict(ratio >= TARGET_RATIO)})",
        f"  {size.rounds} rounds each of {size.updates} callback updates from {size.users} "
        f"users, taken in turns; bot {listed([r.per_s for r in ours], '.0f')}, floor "
        f"{listed([r.per_s for r in floor], '.0f')} per s (medians above); the ratio is the "
        f"median of the rounds' ratios {listed(ratios, '.2f')}",
        f"  webhook mode: {hook_per_s:.0f} updates/s, {hook_ratio:.2f} of polling's (rounds "
        f"{listed([r.per_s for r in hooked], '.0f')}; for the README, no target)",
        f"  CPU, share of one core: bot {listed([r.bot_cpu for r in ours], '.0%')}, webhook "
        f"{listed([r.bot_cpu for r in hooked], '.0%')}, floor "
        f"{listed([r.bot_cpu for r in floor], '.0%')}; emulator process "
        f"{listed([r.emulator_cpu for r in ours + hooked + floor], '.0%')}",
    ]
    return Result("update_throughput", fields, summary)
