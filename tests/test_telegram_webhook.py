"""The Telegram emulator's webhook, set by a real aiogram Bot and received by an aiohttp app."""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher, Router
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError, TelegramRetryAfter
from aiogram.filters import CommandStart
from aiogram.methods import SendMessage
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from emulators.telegram import (
    SECRET_HEADER,
    TERMINATED_BY_SET_WEBHOOK,
    WEBHOOK_ACTIVE,
    SimUser,
    TelegramEmulator,
)
from emulators.telegram.webhook_url import WebhookUrl
from tests.test_telegram_emulator import TOKEN, USER_ID, keyboard, make_bot

HOOK = "https://bot.example.com/tg/hook"
SECRET = "s3cret_-Token"

# One emulator, Bot and receiving app for the module: closing an AiohttpSession sleeps 0.25 s.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass(frozen=True)
class Received:
    path: str
    secret: str | None
    authorization: str | None
    content_type: str
    update: dict[str, Any]

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])


@dataclass
class Flight:
    """Requests being answered now, and the most there were at once."""

    now: int = 0
    most: int = 0


class Receiver:
    """What the reverse proxy forwards to: records each POST and answers as the test says."""

    def __init__(self) -> None:
        self.runner: web.AppRunner | None = None
        self.base_url = ""
        self.release = asyncio.Event()
        self.reset()

    def reset(self) -> None:
        self.requests: list[Received] = []
        # Statuses for the next requests, in order; 200 once they run out.
        self.statuses: deque[int] = deque()
        self.reply: dict[str, Any] = {}
        # How many of the next requests wait for `release` before they are answered.
        self.hold = 0
        # A request held over from an earlier test counts in that test's flight, not this one.
        self.flight = Flight()
        # Requests still held from the last test are answered; the next ones wait anew.
        self.release.set()
        self.release = asyncio.Event()
        self._changed = asyncio.Event()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def stop(self) -> None:
        self.release.set()
        if self.runner is not None:
            await self.runner.cleanup()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(5):
            while not predicate():
                changed = self._changed
                await changed.wait()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _handle(self, request: web.Request) -> web.Response:
        received = Received(
            request.path_qs,
            request.headers.get(SECRET_HEADER),
            request.headers.get("Authorization"),
            request.content_type,
            await request.json(),
        )
        self.requests.append(received)
        flight, release = self.flight, self.release
        flight.now += 1
        flight.most = max(flight.most, flight.now)
        self._notify()
        try:
            if self.hold:
                self.hold -= 1
                await release.wait()
        finally:
            flight.now -= 1
            self._notify()
        status = self.statuses.popleft() if self.statuses else 200
        return web.json_response(self.reply, status=status)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def emulator() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(TOKEN) as emulator:
        yield emulator


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def bot(emulator: TelegramEmulator) -> AsyncIterator[Bot]:
    bot = make_bot(emulator.base_url)
    yield bot
    await bot.session.close()


@pytest.fixture(autouse=True)
def fresh(emulator: TelegramEmulator, receiver: Receiver) -> None:
    emulator.reset()
    receiver.reset()
    emulator.webhook_proxy = receiver.base_url
    emulator.webhook_retry_delay = 0.01


@pytest.fixture
def user(emulator: TelegramEmulator) -> SimUser:
    return emulator.user(USER_ID)


def delivered(emulator: TelegramEmulator) -> list[int]:
    return [attempt.update_id for attempt in emulator.webhook_attempts if attempt.delivered]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- setWebhook's checks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "secret", "refusal"),
    [
        ("http://bot.example.com/hook", None, "bad webhook: An HTTPS URL must be provided"),
        ("https://bot.example.com:8080/hook", None, "ports 80, 88, 443 or 8443"),
        ("https://:8443/hook", None, "invalid webhook URL specified"),
        ("https://bot.example.com:0/hook", None, "invalid webhook URL specified"),
        ("ftp://bot.example.com/hook", None, "invalid webhook URL specified"),
        ("https://127.0.0.1/hook", None, "bad webhook: IP address 127.0.0.1 is reserved"),
        (HOOK, "bad secret!", "secret token contains unallowed characters"),
        (HOOK, "a" * 257, "secret token is too long"),
    ],
)
async def test_set_webhook_refuses_what_telegram_refuses(
    emulator: TelegramEmulator, bot: Bot, url: str, secret: str | None, refusal: str
) -> None:
    with pytest.raises(TelegramBadRequest, match=refusal):
        await bot.set_webhook(url, secret_token=secret)

    assert emulator.webhook_url is None
    assert (await bot.get_webhook_info()).url == ""


async def test_set_webhook_takes_telegram_ports_and_a_256_character_secret(
    emulator: TelegramEmulator, bot: Bot
) -> None:
    emulator.set_webhook_interval = 0
    for url in ("https://bot.example.com:80/a", "https://b.example.com:88", "b.example.com/c"):
        assert await bot.set_webhook(url)
        assert emulator.webhook_url == url
    assert await bot.set_webhook("https://bot.example.com:8443/hook", secret_token="a" * 256)
    assert emulator.webhook_secret == "a" * 256
    assert await bot.set_webhook(HOOK, secret_token="")
    assert emulator.webhook_secret is None, "an empty secret is no secret"


@pytest.mark.parametrize(
    ("url", "read"),
    [
        ("bot.example.com", ("https", "", "bot.example.com", 443, "/")),
        ("HTTPS://Bot.Example.com:0088?q=a b", ("https", "", "bot.example.com", 88, "/?q=a%20b")),
        (
            "https://me:pw@bot.example.com:8443/tg",
            ("https", "me:pw", "bot.example.com", 8443, "/tg"),
        ),
        ("http://[2001:db8::1]:80/", ("http", "", "[2001:db8::1]", 80, "/")),
    ],
)
async def test_webhook_urls_are_read_as_the_bot_api_server_reads_them(
    url: str, read: tuple[str, str, str, int, str]
) -> None:
    parsed = WebhookUrl.parse(url)
    assert (parsed.scheme, parsed.userinfo, parsed.host, parsed.port, parsed.target) == read


async def test_the_url_s_user_and_password_go_as_basic_authorization(
    emulator: TelegramEmulator, bot: Bot, receiver: Receiver, user: SimUser
) -> None:
    await bot.set_webhook("https://me:pw@bot.example.com/tg")
    await user.send("hi")
    await emulator.wait_until(lambda: delivered(emulator))
    assert (receiver.requests[0].path, receiver.requests[0].authorization) == (
        "/tg",
        "Basic bWU6cHc=",
    )


async def test_a_second_set_webhook_within_a_second_gets_429(
    emulator: TelegramEmulator, bot: Bot
) -> None:
    assert await bot.set_webhook(HOOK)
    with pytest.raises(TelegramRetryAfter) as error:
        await bot.set_webhook(HOOK)
    assert error.value.retry_after == 1
    assert await bot.delete_webhook(), "deleting is not limited"


async def test_a_refused_set_webhook_leaves_no_webhook(
    emulator: TelegramEmulator, bot: Bot
) -> None:
    emulator.set_webhook_interval = 0
    assert await bot.set_webhook(HOOK)
    with pytest.raises(TelegramBadRequest, match="HTTPS URL"):
        await bot.set_webhook("http://bot.example.com/hook")
    assert emulator.webhook_url is None


async def test_webhook_info_reports_the_webhook_and_clamps_max_connections(
    emulator: TelegramEmulator, bot: Bot
) -> None:
    empty = await bot.get_webhook_info()
    assert (empty.url, empty.has_custom_certificate, empty.max_connections) == ("", False, None)

    emulator.set_webhook_interval = 0
    assert await bot.set_webhook(
        HOOK, secret_token=SECRET, max_connections=5, allowed_updates=["message"]
    )
    info = await bot.get_webhook_info()
    assert (info.url, info.max_connections, info.allowed_updates) == (HOOK, 5, ["message"])
    assert (info.pending_update_count, info.last_error_date, info.last_error_message) == (
        0,
        None,
        None,
    )
    assert (emulator.webhook_url, emulator.webhook_secret) == (HOOK, SECRET)

    await bot.set_webhook(HOOK, max_connections=0)
    assert (await bot.get_webhook_info()).max_connections == 1
    await bot.set_webhook(HOOK, max_connections=1000)
    assert (await bot.get_webhook_info()).max_connections == 100


# -- delivery ----------------------------------------------------------------------------------


async def test_updates_go_in_order_with_the_secret_to_the_proxy_and_the_url_path(
    emulator: TelegramEmulator, bot: Bot, receiver: Receiver, user: SimUser
) -> None:
    await user.send("one")
    await bot.set_webhook(f"{HOOK}?x=1", secret_token=SECRET)
    await user.send("two")
    await user.send("three")

    await emulator.wait_until(lambda: len(delivered(emulator)) == 3)

    texts = [r.update["message"]["text"] for r in receiver.requests]
    assert texts == ["one", "two", "three"]
    assert {(r.path, r.secret, r.content_type) for r in receiver.requests} == {
        ("/tg/hook?x=1", SECRET, "application/json")
    }
    assert receiver.flight.most == 1, "one chat's messages go one at a time"
    assert emulator.pending_updates == []
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_no_secret_header_without_a_secret(
    emulator: TelegramEmulator, bot: Bot, receiver: Receiver, user: SimUser
) -> None:
    await bot.set_webhook(HOOK)
    await user.send("hi")
    await emulator.wait_until(lambda: delivered(emulator))
    assert receiver.requests[0].secret is None
    assert emulator.webhook_attempts[0].secret is None


async def test_a_refused_update_is_retried_until_a_2xx(
    emulator: TelegramEmulator, bot: Bot, receiver: Receiver, user: SimUser
) -> None:
    receiver.statuses.extend([401, 500])
    await bot.set_webhook(HOOK, secret_token=SECRET)
    await user.send("hi")

    await emulator.wait_until(lambda: delivered(emulator))

    attempts = emulator.webhook_attempts
    assert [(a.update_id, a.status) for a in attempts] == [
        (attempts[0].update_id, s) for s in (401, 500, 200)
    ]
    assert attempts[0].error == "Wrong response from the webhook: 401 Unauthorized"
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert info.last_error_date is not None
    assert info.pending_update_count == 0


async def test_connection_refused_is_retried_at_the_proxy_address_read_each_time(
    emulator: TelegramEmulator, bot: Bot, receiver: Receiver, user: SimUser
) -> None:
    proxy = f"http://127.0.0.1:{closed_port()}"
    emulator.webhook_proxy = lambda: proxy
    await bot.set_webhook(HOOK)
    await user.send("hi")

    await emulator.wait_until(lambda: len(emulator.webhook_attempts) >= 2)
    info = await bot.get_webhook_info()
    assert (info.last_error_message, info.pending_update_count) == ("Connection refused", 1)
    proxy = receiver.base_url

    await emulator.wait_until(lambda: delivered(emulator))
    assert [r.update["message"]["text"] for r in receiver.requests] == ["hi"]


async def test_a_slow_webhook_times_out_and_the_update_is_sent_again(
    emulator: TelegramEmulator, bot: Bot, receiver: Receiver, user: SimUser
) -> None:
    emulator.webhook_timeout = 0.05
    receiver.hold = 1
    await bot.set_webhook(HOOK)
    await user.send("hi")

    await emulator.wait_until(lambda: delivered(emulator))

    assert [a.error for a in emulator.webhook_attempts] == ["Read timeout expired", None]
    assert [r.update_id for r in receiver.requests] == [delivered(emulator)[0]] * 2


async def test_an_answer_lost_on_its_way_back_gets_the_update_posted_again(
    emulator: TelegramEmulator, bot: Bot, receiver: Receiver, user: SimUser
) -> None:
    emulator.webhook_answers_to_lose = 1
    await bot.set_webhook(HOOK)
    await user.send("hi")

    await emulator.wait_until(lambda: delivered(emulator))

    assert [(a.status, a.error) for a in emulator.webhook_attempts] == [
        (None, "Read timeout expired"),
        (200, None),
    ]
    assert [r.update_id for r in receiver.requests] == [delivered(emulator)[0]] * 2
    assert emulator.webhook_answers_to_lose == 0


async def test_max_connections_bounds_the_posts_in_flight(
    emulator: TelegramEmulator, bot: Bot, receiver: Receiver
) -> None:
    await bot.set_webhook(HOOK, max_connections=2)
    receiver.hold = 3
    for user_id in (1, 2, 3):
        await emulator.user(user_id).send("hi")

    await receiver.wait_until(lambda: receiver.flight.now == 2)
    assert len(receiver.requests) == 2
    receiver.release.set()

    await emulator.wait_until(lambda: len(delivered(emulator)) == 3)
    assert receiver.flight.most == 2
    assert sorted(delivered(emulator)) == [r.update_id for r in receiver.requests]


async def test_a_reply_method_is_recorded_not_run(
    emulator: TelegramEmulator, bot: Bot, receiver: Receiver, user: SimUser
) -> None:
    receiver.reply = {"method": "sendMessage", "chat_id": user.id, "text": "from the reply"}
    await bot.set_webhook(HOOK)
    await user.send("hi")

    await emulator.wait_until(lambda: delivered(emulator))
    assert emulator.webhook_attempts[0].reply_method == "sendMessage"
    assert user.bot_messages == []


@asynccontextmanager
async def aiogram_webhook(
    bot: Bot, router: Router | None = None, **handler_options: Any
) -> AsyncIterator[web.AppRunner]:
    """The bot's side as production serves it: aiogram's handler on /tg/hook, not listening
    until the test starts a site on the runner (see `listen`)."""
    dispatcher = Dispatcher()
    if router is not None:
        dispatcher.include_router(router)
    handler = SimpleRequestHandler(dispatcher, bot, **handler_options)
    app = web.Application()
    # Not handler.register: its shutdown hook would close the module's Bot session.
    app.router.add_post("/tg/hook", handler.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    try:
        yield runner
    finally:
        await runner.cleanup()


async def listen(runner: web.AppRunner) -> str:
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return f"http://127.0.0.1:{runner.addresses[0][1]}"


async def test_aiogram_webhook_handler_serves_a_person(
    emulator: TelegramEmulator, bot: Bot, user: SimUser
) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("Hello by webhook")

    site: list[str] = []
    # The bot's port is known only once it listens: until then deliveries are refused.
    emulator.webhook_proxy = lambda: site[0] if site else None
    async with aiogram_webhook(bot, router, handle_in_background=True, secret_token=SECRET) as app:
        await bot.set_webhook(HOOK, secret_token=SECRET)
        await user.send("/start")
        await emulator.wait_until(lambda: emulator.webhook_attempts)
        site.append(await listen(app))

        await user.wait_for_text("Hello by webhook")
    assert emulator.webhook_attempts[0].error == "Connection refused"
    assert emulator.pending_updates == []


async def test_a_wrong_secret_is_refused_by_aiogram_and_retried(
    emulator: TelegramEmulator, bot: Bot, user: SimUser
) -> None:
    async with aiogram_webhook(bot, secret_token=SECRET) as app:
        emulator.webhook_proxy = await listen(app)
        await bot.set_webhook(HOOK, secret_token="other")
        await user.send("hi")
        await emulator.wait_until(lambda: len(emulator.webhook_attempts) >= 2)
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 401 Unauthorized"
    assert info.pending_update_count == 1


async def test_a_reply_method_in_aiogram_form_is_recorded(
    emulator: TelegramEmulator, bot: Bot, user: SimUser
) -> None:
    router = Router()

    @router.message()
    async def echo(message: Message) -> SendMessage:
        return message.answer("in the reply")

    async with aiogram_webhook(bot, router, handle_in_background=False) as app:
        emulator.webhook_proxy = await listen(app)
        await bot.set_webhook(HOOK)
        await user.send("hi")
        await emulator.wait_until(lambda: delivered(emulator))
    assert emulator.webhook_attempts[0].reply_method == "sendMessage"


# -- the webhook and getUpdates ----------------------------------------------------------------


async def test_get_updates_conflicts_while_a_webhook_is_set(bot: Bot) -> None:
    await bot.set_webhook(HOOK)
    with pytest.raises(TelegramConflictError) as error:
        await bot.get_updates()
    assert error.value.message == WEBHOOK_ACTIVE


async def test_set_webhook_ends_a_waiting_long_poll(emulator: TelegramEmulator, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await emulator.wait_until(lambda: emulator.is_long_polling)

    await bot.set_webhook(HOOK)

    with pytest.raises(TelegramConflictError) as error:
        await poll
    assert error.value.message == TERMINATED_BY_SET_WEBHOOK
    assert not emulator.is_long_polling


async def test_delete_webhook_returns_the_queue_to_get_updates(
    emulator: TelegramEmulator, bot: Bot, receiver: Receiver, user: SimUser
) -> None:
    emulator.webhook_retry_delay = 60
    receiver.statuses.append(503)
    await bot.set_webhook(HOOK)
    await user.send("hi")
    await emulator.wait_until(lambda: emulator.webhook_attempts)

    assert await bot.delete_webhook()

    assert emulator.webhook_url is None
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count, info.last_error_message) == ("", 1, None)
    assert [u.message.text for u in await bot.get_updates() if u.message] == ["hi"]


async def test_drop_pending_updates_on_set_and_on_delete(
    emulator: TelegramEmulator, bot: Bot, receiver: Receiver, user: SimUser
) -> None:
    await user.send("old")
    emulator.set_webhook_interval = 0
    await bot.set_webhook(HOOK, drop_pending_updates=True)
    await user.send("new")
    await emulator.wait_until(lambda: delivered(emulator))
    assert [r.update["message"]["text"] for r in receiver.requests] == ["new"]

    await bot.delete_webhook()
    await user.send("queued")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert emulator.pending_updates == []


async def test_allowed_updates_filters_what_the_webhook_gets(
    emulator: TelegramEmulator, bot: Bot, receiver: Receiver, user: SimUser
) -> None:
    await bot.set_webhook(HOOK, allowed_updates=["callback_query"])
    await bot.send_message(user.id, "Pick", reply_markup=keyboard(("A", "a")))
    await user.send("ignored")
    await user.tap("A")

    await emulator.wait_until(lambda: delivered(emulator))
    assert [list(r.update)[1] for r in receiver.requests] == ["callback_query"]
    assert [list(u) for u in emulator.dropped_updates] == [["message"]]
    assert emulator.allowed_updates == frozenset({"callback_query"})


# -- reset and stop ----------------------------------------------------------------------------


async def test_reset_forgets_the_webhook_and_cancels_a_post_in_flight(
    emulator: TelegramEmulator, bot: Bot, receiver: Receiver, user: SimUser
) -> None:
    receiver.hold = 1
    await bot.set_webhook(HOOK, secret_token=SECRET)
    await user.send("hi")
    await receiver.wait_until(lambda: receiver.flight.now == 1)

    emulator.reset()

    assert (emulator.webhook_url, emulator.webhook_attempts) == (None, [])
    assert emulator.webhook_proxy is None
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == ("", 0)
    assert await bot.set_webhook(HOOK), "reset forgets the last setWebhook's time too"


async def test_stop_cancels_and_awaits_deliveries(receiver: Receiver) -> None:
    receiver.hold = 1
    async with TelegramEmulator(TOKEN) as other:
        other.webhook_proxy = receiver.base_url
        status, _ = await other.call(TOKEN, "setWebhook", {"url": HOOK})
        assert status == 200
        await other.user(USER_ID).send("hi")
        await receiver.wait_until(lambda: receiver.flight.now == 1)
    assert other.webhook_attempts == []
    assert other.webhook_url == HOOK, "stopping the server does not delete the webhook"
