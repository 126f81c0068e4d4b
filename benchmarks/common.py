"""Shared by the benchmarks: results, statistics, child processes, emulators and seeded orders."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks import proc
from bot.catalog.countries import iso_code
from bot.config import Settings
from bot.orders.lifecycle import OrderStatus
from bot.storage.database import Database
from emulators.smsman import DEFAULT_CATALOG, Catalog, SmsManEmulator
from emulators.telegram import DEFAULT_TOKEN, TelegramEmulator

ROOT = Path(__file__).resolve().parent.parent
SMSMAN_TOKEN = "test-token"
# Environment variables the bot reads: a developer's own must not leak into a benchmark.
SETTING_NAMES = frozenset(name.upper() for name in Settings.model_fields)
# Telegram user ids of the simulated people; any range clear of the tests' fixed ids.
FIRST_USER_ID = 100_000
# aiogram alone takes 6-8 s to import on this kind of machine, longer when both cores are busy.
START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
# The pair every seeded order rents: Russia / Telegram, on sale in the default catalog.
SEED_COUNTRY, SEED_APP = 1, 3
SEED_BATCH = 200
# Long enough that no seeded order reaches its deadline during a benchmark.
ORDER_TIMEOUT_S = 3600
# For the benchmarks of the bot's own side (updates, polls, menus), whose emulator enforces no
# send limits: the bot does not pace either. Telegram's limits are telegram_budget's subject.
UNPACED = {"TELEGRAM_MAX_SENDS_PER_S": "100000", "TELEGRAM_CHAT_SENDS_PER_S": "100000"}


def progress(message: str) -> None:
    """A line for the person watching; stderr, so stdout stays JSON lines and the summary."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Result:
    """One benchmark line: the JSON object's fields, and the sentences a person reads about it."""

    name: str
    # Figures, and for a benchmark of several cases its "case".
    fields: Mapping[str, int | float | str]
    summary: list[str]

    def json_line(self) -> str:
        return json.dumps({"name": self.name, **self.fields})


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated linearly between the two nearest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def busiest_second(times: Iterable[float]) -> int:
    """The most events inside any one-second window, the window sliding over the event times."""
    ordered = sorted(times)
    best = first = 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


async def card_message(telegram: TelegramEmulator, user_id: int) -> int:
    """A message from the bot in the user's chat, put there without the bot (seed before
    switching the emulator's limits on: this counts against them)."""
    status, answer = await telegram.call(
        DEFAULT_TOKEN, "sendMessage", {"chat_id": user_id, "text": "📱 …"}
    )
    if status != 200:
        raise RuntimeError(f"the card message was refused: {answer}")
    return int(answer["result"]["message_id"])


@asynccontextmanager
async def workdir() -> AsyncIterator[Path]:
    """A fresh directory for the bot's cwd (so no .env is read), database and logs."""
    with tempfile.TemporaryDirectory(prefix="smsman-bench-") as path:
        yield Path(path)


# The bot's SMSMAN_MAX_RPS when a benchmark leaves it at its default.
DEFAULT_SMSMAN_RATE: float = Settings.model_fields["smsman_max_rps"].default


@asynccontextmanager
async def emulators(
    catalog: Catalog = DEFAULT_CATALOG, *, smsman_rate: float = DEFAULT_SMSMAN_RATE
) -> AsyncIterator[tuple[TelegramEmulator, SmsManEmulator]]:
    """Both emulators, listening on 127.0.0.1 in this process; SMS-man refuses what goes over
    `smsman_rate` (the bot's SMSMAN_MAX_RPS), and a benchmark it had to refuse fails."""
    async with (
        TelegramEmulator(DEFAULT_TOKEN) as telegram,
        SmsManEmulator(token=SMSMAN_TOKEN, catalog=catalog, max_rps=smsman_rate) as smsman,
    ):
        yield telegram, smsman
    if smsman.rate_refusals:
        raise RuntimeError(
            f"SMS-man refused {smsman.rate_refusals} requests over {smsman_rate:g} a second"
        )


def bot_env(
    telegram: TelegramEmulator,
    smsman: SmsManEmulator,
    database: Path,
    user_ids: Sequence[int],
    **settings: str,
) -> dict[str, str]:
    """The environment of a bot process pointed at both emulators; `settings` by variable name."""
    env = {key: value for key, value in os.environ.items() if key.upper() not in SETTING_NAMES}
    env.update(
        PYTHONPATH=str(ROOT),
        BOT_TOKEN=DEFAULT_TOKEN,
        SMSMAN_TOKEN=SMSMAN_TOKEN,
        TELEGRAM_API_URL=telegram.base_url,
        SMSMAN_API_URL=smsman.control_url,
        DATABASE_PATH=str(database),
        ALLOWED_USER_IDS=",".join(map(str, user_ids)),
        ORDER_TIMEOUT_SECONDS=str(ORDER_TIMEOUT_S),
        LOG_LEVEL="INFO",
    )
    env.update(settings)
    return env


class Child:
    """A process the benchmark started; CPU time and peak memory come from /proc."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, log: Path) -> None:
        self.name = name
        self.process = process
        self.log = log

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def cpu_seconds(self) -> float:
        return proc.cpu_seconds(self.process.pid)

    def peak_rss_mb(self) -> float:
        return proc.peak_rss_mb(self.process.pid)

    async def send_line(self, text: str) -> None:
        stdin = self.process.stdin
        if stdin is None:
            raise RuntimeError(f"{self.name} was started without a stdin pipe")
        stdin.write(text.encode() + b"\n")
        await stdin.drain()
        stdin.close()

    async def read_json(self) -> dict[str, float]:
        """The next line the child prints on stdout that is a JSON object."""
        stdout = self.process.stdout
        if stdout is None:
            raise RuntimeError(f"{self.name} was started without a stdout pipe")
        while line := await stdout.readline():
            if line.startswith(b"{"):
                figure = json.loads(line)
                if isinstance(figure, dict):
                    return figure
        raise RuntimeError(f"{self.name} exited without printing what was expected")

    def check_alive(self) -> None:
        if not self.running:
            raise RuntimeError(
                f"{self.name} exited with {self.process.returncode}\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> None:
        """SIGTERM, the way a service manager stops the bot; SIGKILL if it does not exit."""
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@asynccontextmanager
async def spawn(
    name: str,
    args: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    stdin: bool = False,
    stdout: bool = False,
) -> AsyncIterator[Child]:
    """Run `python args` with its output in cwd/<name>.log; stopped on leaving, whatever happens."""
    log_path = cwd / f"{name}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if stdout else log,
            stderr=log,
        )
        child = Child(name, process, log_path)
        try:
            yield child
        except BaseException:
            progress(f"{name} failed; the end of its log:\n{child.log_tail()}")
            raise
        finally:
            await child.stop()


def free_port() -> int:
    """A port nothing listens on now, for a child process to listen on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_for_webhook(telegram: TelegramEmulator, child: Child) -> None:
    """Until `child` has set its webhook: it listens, and the emulator posts to it."""
    deadline = time.monotonic() + START_TIMEOUT
    while telegram.webhook_url is None:
        child.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{child.name} did not set its webhook within {START_TIMEOUT} s")
        await asyncio.sleep(0.05)


async def wait_for_polling(telegram: TelegramEmulator, child: Child, since: int = 0) -> float:
    """When `child` first long-polls (a getUpdates after call number `since`): it is up."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        child.check_alive()
        polls = [call.time for call in telegram.calls[since:] if call.method == "getUpdates"]
        if polls:
            return polls[0]
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{child.name} did not start polling within {START_TIMEOUT} s")


async def seed_orders(
    database: Path,
    smsman: SmsManEmulator,
    count: int,
    user_ids: Sequence[int],
    *,
    cards: TelegramEmulator | None = None,
    now: float | None = None,
) -> list[int]:
    """`count` ACTIVE orders shared round-robin by the users, each renting a number bought from
    the emulator, written with the bot's own storage API as a purchase would leave them (at
    `now`, the bot's clock).

    With `cards`, each order gets a card message in its person's chat there (the users must
    exist), which the bot redraws as a purchase's card; without, there is none to redraw.
    Returns the emulator's request ids, one per order.
    """
    country = smsman.state.catalog.countries[SEED_COUNTRY]
    app = smsman.state.catalog.applications[SEED_APP]
    offer = smsman.set_stock(SEED_COUNTRY, SEED_APP, count=count)
    smsman.set_balance(offer.cost * count)
    requests = [smsman.state.buy(SEED_COUNTRY, SEED_APP) for _ in range(count)]
    db = await Database.open(database)
    now = time.time() if now is None else now
    try:
        for user_id in user_ids:
            await db.ensure_user(user_id, "en", now)

        async def seed(index: int) -> int:
            request = requests[index]
            user_id = user_ids[index % len(user_ids)]
            quote = await db.insert_quote(
                user_id=user_id,
                country_id=SEED_COUNTRY,
                country_title=country.title,
                country_iso=iso_code(country.iso, country.title),
                application_id=SEED_APP,
                app_title=app.title,
                price=offer.cost,
                currency="RUB",
                now=now,
            )
            card = None if cards is None else await card_message(cards, user_id)
            order, _created = await db.insert_order(quote, user_id, now, card_message_id=card)
            await db.update_order(
                order.id,
                expect=(OrderStatus.PURCHASING,),
                now=now,
                status=OrderStatus.ACTIVE,
                request_id=request.request_id,
                number=request.number,
                deadline=now + ORDER_TIMEOUT_S,
            )
            return request.request_id

        seeded: list[int] = []
        # Batches keep aiosqlite's queue full (a third faster than one order at a time)
        # without holding thousands of coroutines at once.
        for start in range(0, count, SEED_BATCH):
            batch = range(start, min(start + SEED_BATCH, count))
            seeded += await asyncio.gather(*(seed(index) for index in batch))
        return seeded
    finally:
        await db.close()
