"""Shared fixtures: both emulators, compiled catalogs, settings, the bot as production builds it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.common import UNPACED
from bot.config import Settings
from bot.factory import Application
from bot.i18n import LOCALES_DIR
from emulators.smsman import SmsManEmulator
from emulators.telegram import DEFAULT_TOKEN, TelegramEmulator
from setup import compile_catalogs

SMSMAN_TOKEN = "test-token"
# The bot's SMSMAN_MAX_RPS in the tests, and the limit the SMS-man emulator enforces on it.
SMSMAN_MAX_RPS = 200
# The environment variable of every setting, so tests can keep a developer's own out.
SETTING_NAMES = frozenset(name.upper() for name in Settings.model_fields)
ADMIN_ID = 1000
ALLOWED_ID = 2000


# The longest tests go first: two workers then share the rest around them (`--dist worksteal`
# steals from the busy one), rather than one starting a long search after its share of the rest.
LONGEST_FIRST = (
    "test_lifecycle_model.py",
    "test_model_build_order.py",
    "test_process.py",
    "test_benchmarks.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


class FakeClock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def locales(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The catalogs compiled from the committed .po files, so no test depends on a stale .mo."""
    out = tmp_path_factory.mktemp("locales")
    compile_catalogs(LOCALES_DIR, out)
    return out


@pytest.fixture(scope="session")
def compiled_catalogs() -> None:
    """Bot processes read bot/locales/ themselves; `make` compiles it, this covers a bare pytest."""
    compile_catalogs(LOCALES_DIR, LOCALES_DIR)


@pytest.fixture
async def smsman() -> AsyncIterator[SmsManEmulator]:
    """Refusing what goes over the bot's rate, so every test proves the bot stays under it."""
    async with SmsManEmulator(token=SMSMAN_TOKEN, max_rps=SMSMAN_MAX_RPS) as emulator:
        yield emulator
    assert emulator.rate_refusals == 0, "the bot went over SMSMAN_MAX_RPS"


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(DEFAULT_TOKEN) as emulator:
        yield emulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator) -> Settings:
    return make_settings(tmp_path, smsman, telegram)


def make_settings(
    tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "bot_token": DEFAULT_TOKEN,
        "smsman_token": SMSMAN_TOKEN,
        "telegram_api_url": telegram.base_url,
        "smsman_api_url": smsman.control_url,
        "database_path": tmp_path / "bot.sqlite3",
        "admin_ids": [ADMIN_ID],
        "allowed_user_ids": [ALLOWED_ID],
        "poll_interval_seconds": 0.05,
        "smsman_max_rps": SMSMAN_MAX_RPS,
        # The emulator enforces no send limits unless a test switches them on: nor does the bot.
        **{name.lower(): value for name, value in UNPACED.items()},
        **overrides,
    }
    return Settings(_env_file=None, **values)


# Webhook mode as a test runs it: the emulator posts, as the owner's proxy would, to the port
# the bot picked.
WEBHOOK = {
    "webhook_url": "https://bot.example.com/tg/hook",
    "webhook_secret": "s3cret-of_the-test",
    "webhook_listen": "127.0.0.1:0",
}
MODES = ("polling", "webhook")

RunBot = Callable[..., AbstractAsyncContextManager[Application]]


@pytest.fixture
def run_bot(locales: Path, clock: FakeClock, telegram: TelegramEmulator) -> RunBot:
    """Start the production application for one block, long-polling the Telegram emulator (or,
    with a WEBHOOK_URL, taking its webhook posts), as `smsman-bot run` does."""

    @asynccontextmanager
    async def running(settings: Settings) -> AsyncIterator[Application]:
        app = await Application.open(
            settings, clock=clock, locales=locales, smsman_timeout=httpx.Timeout(1.0)
        )
        webhook = app.webhook
        if webhook is not None:
            telegram.webhook_proxy = lambda: webhook.address and f"http://{webhook.address}"
        serving = asyncio.create_task(app.run(handle_signals=False))
        try:
            yield app
        finally:
            await app.stop()
            await serving
            await app.close()

    return running


@pytest.fixture
async def bot_app(
    request: pytest.FixtureRequest, run_bot: RunBot, settings: Settings, telegram: TelegramEmulator
) -> AsyncIterator[Application]:
    """The bot long-polling; `@pytest.mark.parametrize("bot_app", MODES, indirect=True)` runs a
    test in webhook mode too."""
    webhook = getattr(request, "param", "polling") == "webhook"
    if webhook:
        tmp_path, smsman = request.getfixturevalue("tmp_path"), request.getfixturevalue("smsman")
        settings = make_settings(tmp_path, smsman, telegram, **WEBHOOK)
    async with run_bot(settings) as app:
        yield app
        await every_tap_answered(telegram)
    if webhook:
        assert telegram.calls_of("getUpdates") == [], "webhook mode never polls"
        assert all(a.delivered for a in telegram.webhook_attempts), telegram.webhook_attempts
        assert telegram.webhook_attempts, "every update came by webhook"


async def every_tap_answered(telegram: TelegramEmulator) -> None:
    """Whatever a test did, the bot tried to answer every tap (Telegram may refuse a late one)."""

    def attempted() -> bool:
        answered = {
            str(c.params.get("callback_query_id")) for c in telegram.calls_of("answerCallbackQuery")
        }
        return all(q.id in answered for q in telegram.unanswered_callback_queries())

    await telegram.wait_until(attempted)
