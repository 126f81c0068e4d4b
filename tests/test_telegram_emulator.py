"""The Telegram emulator and simulated user, proven against a real aiogram Bot and Dispatcher."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import aiohttp
import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher, F, Router, html
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.methods import TelegramMethod
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from emulators.telegram import (
    CONFLICT,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    CallbackAnswer,
    SimUser,
    TelegramEmulator,
)

TOKEN = "123456:TEST-token"
USER_ID = 1001


def make_bot(base_url: str, token: str = TOKEN) -> Bot:
    return Bot(
        token,
        session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for text, data in buttons:
        builder.button(text=text, callback_data=data)
    return builder.as_markup()


# One server and one Bot for the module: closing an AiohttpSession sleeps 0.25 s.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def emulator() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(TOKEN) as emulator:
        yield emulator


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def bot(emulator: TelegramEmulator) -> AsyncIterator[Bot]:
    bot = make_bot(emulator.base_url)
    yield bot
    await bot.session.close()


@pytest.fixture(autouse=True)
def fresh_emulator(emulator: TelegramEmulator) -> None:
    emulator.reset()


@pytest.fixture
def user(emulator: TelegramEmulator) -> SimUser:
    return emulator.user(USER_ID, "Ann <&>")


@asynccontextmanager
async def polling(
    emulator: TelegramEmulator, bot: Bot, router: Router
) -> AsyncIterator[Dispatcher]:
    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    task = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
    )
    await emulator.wait_until(lambda: emulator.is_long_polling or task.done())
    try:
        yield dispatcher
    finally:
        await dispatcher.stop_polling()
        await task


def greeting_router() -> Router:
    router = Router()

    async def start(message: Message) -> None:
        assert message.from_user is not None
        name = message.from_user.first_name
        await message.answer(
            f"Hello, <b>{html.quote(name)}</b>!", reply_markup=keyboard(("Buy one", "buy"))
        )

    async def buy(callback: CallbackQuery) -> None:
        assert isinstance(callback.message, Message)
        await callback.message.edit_text("Bought <i>one</i>")
        await callback.answer("Done", show_alert=True)

    router.message.register(start, CommandStart())
    router.callback_query.register(buy, F.data == "buy")
    return router


# -- long polling ----------------------------------------------------------------------------


async def test_polling_delivers_a_command_and_acknowledges_the_update(
    emulator: TelegramEmulator, bot: Bot, user: SimUser
) -> None:
    async with polling(emulator, bot, greeting_router()):
        sent = await user.send("/start")
        reply = await user.wait_for_text("Hello")
        await emulator.wait_until(lambda: not emulator.pending_updates)

    assert sent.entities == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert reply.text == "Hello, Ann <&>!"
    assert reply.html == "Hello, <b>Ann &lt;&amp;&gt;</b>!"
    assert reply.entities == [{"type": "bold", "offset": 7, "length": 7}]
    assert [[b.text for b in row] for row in reply.buttons] == [["Buy one"]]
    first_poll, second_poll = emulator.calls_of("getUpdates")[:2]
    assert "offset" not in first_poll.params
    assert second_poll.params["offset"] == first_poll.result[-1]["update_id"] + 1
    assert sorted(first_poll.params["allowed_updates"]) == ["callback_query", "message"]


async def test_polling_delivers_a_callback_and_the_user_sees_the_edit(
    emulator: TelegramEmulator, bot: Bot, user: SimUser
) -> None:
    async with polling(emulator, bot, greeting_router()):
        await user.send("/start")
        await user.wait_for_text("Hello")
        tap = await user.tap("Buy")
        answer = await tap.answered()
        edited = await user.wait_for_text("Bought")

    assert answer == CallbackAnswer(text="Done", show_alert=True, url=None, cache_time=None)
    assert edited is tap.message
    assert (edited.text, edited.edited, edited.buttons) == ("Bought one", 1, [])
    assert emulator.unanswered_callback_queries() == []
    assert [m.text for m in user.messages] == ["/start", "Bought one"]


async def test_a_fresh_wait_ignores_an_older_identical_reply(
    emulator: TelegramEmulator, bot: Bot, user: SimUser
) -> None:
    async with polling(emulator, bot, greeting_router()):
        await user.send("/start")
        first = await user.wait_for_text("Hello")
        await user.send("/start")
        second = await user.wait_for_text("Hello")

    assert second.message_id == first.message_id + 2


async def test_get_updates_honours_offset_limit_timeout_and_allowed_updates(
    emulator: TelegramEmulator, bot: Bot, user: SimUser
) -> None:
    for text in ("one", "two", "three"):
        await user.send(text)

    first = await bot.get_updates(limit=2, timeout=10)
    rest = await bot.get_updates(offset=first[-1].update_id + 1, timeout=10)
    waiting = asyncio.create_task(
        bot.get_updates(offset=rest[-1].update_id + 1, timeout=10, allowed_updates=["message"])
    )
    await emulator.wait_until(lambda: emulator.is_long_polling)
    await user.send("four")
    woken = await waiting

    assert [u.message.text for u in first + rest + woken if u.message] == [
        "one",
        "two",
        "three",
        "four",
    ]
    assert [u["message"]["text"] for u in emulator.pending_updates] == ["four"]
    await bot.send_message(user.id, "Pick", reply_markup=keyboard(("A", "a")))
    await user.tap("A")
    assert [u.keys() for u in emulator.dropped_updates] == [{"callback_query"}]


async def test_a_newer_get_updates_terminates_the_waiting_one_with_409(
    emulator: TelegramEmulator, bot: Bot, user: SimUser
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await emulator.wait_until(lambda: emulator.is_long_polling)
    second = asyncio.create_task(bot.get_updates(timeout=10))

    with pytest.raises(TelegramConflictError) as error:
        await first
    await user.send("hi")

    assert error.value.message == CONFLICT
    assert [u.message.text for u in await second if u.message] == ["hi"]


async def test_updates_are_valid_aiogram_objects(
    emulator: TelegramEmulator, bot: Bot, user: SimUser
) -> None:
    sent = await bot.send_message(user.id, "Reply to me", reply_markup=keyboard(("Go", "go")))
    await user.send("/help@test_bot now")
    await user.tap("Go")
    emulator.block(user.id)

    updates = [Update.model_validate(u, context={"bot": bot}) for u in emulator.pending_updates]

    assert updates[0].message is not None
    assert updates[0].message.text == "/help@test_bot now"
    assert updates[1].callback_query is not None
    assert updates[1].callback_query.message == sent
    assert updates[1].callback_query.data == "go"
    assert updates[2].my_chat_member is not None
    assert updates[2].my_chat_member.new_chat_member.status == "kicked"


async def test_a_group_delivers_its_members_messages_and_taps_and_takes_sends(
    emulator: TelegramEmulator, bot: Bot, user: SimUser
) -> None:
    group = emulator.group(-100_500, "Friends")
    assert emulator.group(-100_500) is group
    posted = await bot.send_message(group.id, "Menu", reply_markup=keyboard(("Go", "go")))
    other = emulator.user(USER_ID + 1, "Bob")
    await user.send_in(group, "/start@test_bot")
    tap = await other.tap_in(group, group.messages[0], "go")

    updates = [Update.model_validate(u, context={"bot": bot}) for u in emulator.pending_updates]
    message, query = updates[0].message, updates[1].callback_query
    assert message is not None
    assert message.chat.type == "supergroup"
    assert (message.chat.id, message.chat.title) == (-100_500, "Friends")
    assert message.from_user is not None
    assert message.from_user.id == user.id
    assert query is not None
    assert query.from_user.id == other.id
    assert query.message == posted
    await bot.answer_callback_query(query.id, "Hi")
    assert (await tap.answered()).text == "Hi"
    assert [m.text for m in group.messages] == ["Menu", "/start@test_bot"]
    assert user.messages == [], "nothing of it in the person's private chat"
    with pytest.raises(ValueError, match="negative"):
        emulator.group(5)


# -- HTML parse mode -------------------------------------------------------------------------


async def test_html_becomes_plain_text_and_utf16_entities(bot: Bot, user: SimUser) -> None:
    message = await bot.send_message(
        user.id,
        '😀 <b>bold</b> é <i>it</i> <a href="https://example.com">site</a>\n'
        '<pre><code class="language-python">x = 1</code></pre> AT&T &lt;3 &#8364;',
    )

    assert message.text == "😀 bold é it site\nx = 1 AT&T <3 €"
    assert [e.model_dump(exclude_none=True) for e in message.entities or []] == [
        {"type": "bold", "offset": 3, "length": 4},
        {"type": "italic", "offset": 10, "length": 2},
        {"type": "text_link", "offset": 13, "length": 4, "url": "https://example.com/"},
        {"type": "pre", "offset": 18, "length": 5, "language": "python"},
    ]
    assert user.last_bot_message is not None
    assert user.last_bot_message.text == message.text


async def test_plain_text_keeps_given_entities_and_gains_found_ones(
    bot: Bot, user: SimUser
) -> None:
    message = await bot.send_message(
        user.id,
        "Use /help now",
        parse_mode=None,
        entities=[MessageEntity(type="bold", offset=0, length=3)],
    )

    assert [(e.type, e.offset, e.length) for e in message.entities or []] == [
        ("bold", 0, 3),
        ("bot_command", 4, 5),
    ]
    assert user.messages[0].html is None


async def test_a_time_tag_becomes_a_date_time_entity(bot: Bot, user: SimUser) -> None:
    message = await bot.send_message(
        user.id,
        'Until <tg-time unix="1800000900" format="t">14:15 UTC</tg-time> '
        '(<tg-time unix="1800000900" format="r">in 15 min</tg-time>), '
        '<tg-time unix="1800000900">then</tg-time>',
    )

    assert message.text == "Until 14:15 UTC (in 15 min), then"
    assert [e.model_dump(exclude_none=True) for e in message.entities or []] == [
        {
            "type": "date_time",
            "offset": 6,
            "length": 9,
            "unix_time": 1800000900,
            "date_time_format": "t",
        },
        {
            "type": "date_time",
            "offset": 17,
            "length": 9,
            "unix_time": 1800000900,
            "date_time_format": "r",
        },
        {"type": "date_time", "offset": 29, "length": 4, "unix_time": 1800000900},
    ]


@pytest.mark.parametrize(
    ("html", "detail"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("Привет <br>", 'Unsupported start tag "br" at byte offset 13'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("x <b", "Unclosed start tag at byte offset 2"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<a href=x/">y</a>', "Unexpected end of name token at byte offset 8"),
        ('<tg-time format="t">x</tg-time>', 'Tag "tg-time" must have a valid attribute "unix"'),
        ('<tg-time unix="soon">x</tg-time>', 'Tag "tg-time" must have a valid attribute "unix"'),
        ('<tg-time unix="1" format="rt">x</tg-time>', 'Invalid date and time format "rt"'),
    ],
)
async def test_malformed_html_is_refused_like_telegram(
    bot: Bot, user: SimUser, html: str, detail: str
) -> None:
    with pytest.raises(TelegramBadRequest) as error:
        await bot.send_message(user.id, html)

    assert error.value.message == f"Bad Request: can't parse entities: {detail}"
    assert user.messages == []


async def test_text_must_be_non_empty_and_at_most_4096_characters(bot: Bot, user: SimUser) -> None:
    for empty in ("", "  \n ", "<b> </b>"):
        with pytest.raises(TelegramBadRequest) as empty_error:
            await bot.send_message(user.id, empty)
        assert empty_error.value.message == "Bad Request: message text is empty"
    with pytest.raises(TelegramBadRequest) as error:
        await bot.send_message(user.id, "<b>" + "я" * 4097 + "</b>")

    longest = await bot.send_message(user.id, "<b>" + "я" * 4096 + "</b>")

    assert error.value.message == "Bad Request: message is too long"
    assert len(longest.text or "") == 4096


async def test_the_length_limit_counts_utf16_code_units(bot: Bot, user: SimUser) -> None:
    """An emoji outside the BMP is two units, as in Telegram's entity offsets: 2,049 of them
    are 2,049 code points and 4,098 units, too long by the stricter count."""
    longest = await bot.send_message(user.id, "😀" * 2048)
    with pytest.raises(TelegramBadRequest) as error:
        await bot.send_message(user.id, "😀" * 2049)
    with pytest.raises(TelegramBadRequest) as edit_error:
        await bot.edit_message_text(
            "😀" * 2049 + "!", chat_id=user.id, message_id=longest.message_id
        )

    assert error.value.message == edit_error.value.message == "Bad Request: message is too long"
    assert len((longest.text or "").encode("utf-16-le")) // 2 == 4096


# -- keyboards, edits, deletes ---------------------------------------------------------------


@pytest.mark.parametrize("data", ["x" * 65, "é" * 33, ""])
async def test_callback_data_must_be_1_to_64_bytes(bot: Bot, user: SimUser, data: str) -> None:
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data=data)]]
    )

    with pytest.raises(TelegramBadRequest) as error:
        await bot.send_message(user.id, "Pick", reply_markup=markup)

    assert error.value.message == "Bad Request: BUTTON_DATA_INVALID"


async def test_an_inline_keyboard_holds_at_most_100_buttons(bot: Bot, user: SimUser) -> None:
    def rows_of(count: int) -> InlineKeyboardMarkup:
        buttons = [InlineKeyboardButton(text=str(n), callback_data=str(n)) for n in range(count)]
        return InlineKeyboardMarkup(
            inline_keyboard=[buttons[i : i + 4] for i in range(0, count, 4)]
        )

    sent = await bot.send_message(user.id, "Pick", reply_markup=rows_of(100))
    refusals = []
    for call in (
        bot.send_message(user.id, "Pick", reply_markup=rows_of(101)),
        bot.edit_message_text(
            "Pick again", chat_id=user.id, message_id=sent.message_id, reply_markup=rows_of(101)
        ),
        bot.edit_message_reply_markup(
            chat_id=user.id, message_id=sent.message_id, reply_markup=rows_of(101)
        ),
    ):
        with pytest.raises(TelegramBadRequest) as error:
            await call
        refusals.append(error.value.message)

    assert refusals == ["Bad Request: reply markup is too long"] * 3
    assert sum(map(len, user.messages[-1].buttons)) == 100


async def test_edit_without_reply_markup_removes_the_keyboard(bot: Bot, user: SimUser) -> None:
    sent = await bot.send_message(user.id, "Pick", reply_markup=keyboard(("A", "a"), ("B", "b")))

    await bot.edit_message_text("Picked", chat_id=user.id, message_id=sent.message_id)

    assert user.messages[0].text == "Picked"
    assert user.messages[0].buttons == []
    assert user.messages[0].edited == 1


async def test_edits_and_deletes_follow_telegrams_rules(bot: Bot, user: SimUser) -> None:
    markup = keyboard(("A", "a"))
    sent = await bot.send_message(user.id, "<b>Same</b>", reply_markup=markup)
    mine = await user.send("hello")
    cases: list[tuple[Callable[[], Awaitable[Any]], str]] = [
        (
            lambda: bot.edit_message_text("x", chat_id=user.id, message_id=99),
            "Bad Request: message to edit not found",
        ),
        (
            lambda: bot.edit_message_text("x", chat_id=user.id, message_id=mine.message_id),
            "Bad Request: message can't be edited",
        ),
        (
            lambda: bot.edit_message_text(
                "<b>Same</b>", chat_id=user.id, message_id=sent.message_id, reply_markup=markup
            ),
            NOT_MODIFIED,
        ),
        (
            lambda: bot.edit_message_reply_markup(
                chat_id=user.id, message_id=sent.message_id, reply_markup=markup
            ),
            NOT_MODIFIED,
        ),
        (lambda: bot.delete_message(user.id, 99), "Bad Request: message to delete not found"),
        (lambda: bot.send_message(424242, "x"), "Bad Request: chat not found"),
    ]

    for call, description in cases:
        with pytest.raises(TelegramBadRequest) as error:
            await call()
        assert error.value.message == description
    assert await bot.edit_message_reply_markup(chat_id=user.id, message_id=sent.message_id)
    assert await bot.delete_message(user.id, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=user.id, message_id=sent.message_id)
    assert [m.text for m in user.messages] == ["hello"]
    assert [m.text for m in user.deleted_messages] == ["Same"]


async def test_a_callback_query_can_be_answered_once(
    emulator: TelegramEmulator, bot: Bot, user: SimUser
) -> None:
    await bot.send_message(user.id, "Pick", reply_markup=keyboard(("A", "a")))
    tap = await user.tap("A", exact=True)
    stale = await user.tap_data("forged")
    emulator.callback_answer_max_age = 10.0
    emulator.callback_queries[stale.query_id].created_at -= 60

    assert await bot.answer_callback_query(tap.query_id, text="Hi")
    for query_id in (tap.query_id, "unknown", stale.query_id):
        with pytest.raises(TelegramBadRequest) as error:
            await bot.answer_callback_query(query_id)
        assert error.value.message == QUERY_TOO_OLD
    assert await tap.answered() == CallbackAnswer("Hi", show_alert=False, url=None, cache_time=None)
    assert [q.data for q in emulator.unanswered_callback_queries()] == ["forged"]


async def test_tap_refuses_missing_and_ambiguous_buttons(bot: Bot, user: SimUser) -> None:
    await bot.send_message(
        user.id, "Pick", reply_markup=keyboard(("Buy one", "1"), ("Buy two", "2"))
    )

    with pytest.raises(AssertionError, match="several buttons"):
        await user.tap("Buy")
    with pytest.raises(AssertionError, match="no button matching 'Sell'"):
        await user.tap("Sell")
    assert (await user.tap("Buy two")).data == "2"


async def test_a_timed_out_wait_shows_the_chat(bot: Bot, user: SimUser) -> None:
    await bot.send_message(user.id, "Only this", reply_markup=keyboard(("A", "a")))

    with pytest.raises(AssertionError) as error:
        await user.wait_for_text("never", timeout=0.01, fresh=False)

    assert "a bot message containing 'never'" in str(error.value)
    assert "#1 bot: Only this" in str(error.value)
    assert "[A | a]" in str(error.value)


# -- failures mapped to aiogram's exceptions -------------------------------------------------


async def test_a_blocked_user_makes_sends_and_edits_fail_with_403(
    emulator: TelegramEmulator, bot: Bot, user: SimUser
) -> None:
    sent = await bot.send_message(user.id, "Hi")
    emulator.block(user.id)

    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: bot.send_message(user.id, "Again"),
        lambda: bot.edit_message_text("Edit", chat_id=user.id, message_id=sent.message_id),
        lambda: bot.send_chat_action(user.id, "typing"),
    ]

    for call in calls:
        with pytest.raises(TelegramForbiddenError) as error:
            await call()
        assert error.value.message == "Forbidden: bot was blocked by the user"
    emulator.unblock(user.id)
    assert await bot.send_message(user.id, "Welcome back")


async def test_the_send_limits_answer_429_and_do_not_execute_the_call(
    emulator: TelegramEmulator, bot: Bot, user: SimUser
) -> None:
    other = emulator.user(2002)
    limits = emulator.enforce_limits()
    sent = await bot.send_message(user.id, "1")
    await bot.edit_message_text("2", chat_id=user.id, message_id=sent.message_id)
    with_button = await bot.send_message(user.id, "3", reply_markup=keyboard(("A", "a")))
    messages = len(user.chat.messages)

    with pytest.raises(TelegramRetryAfter) as error:
        await bot.send_message(user.id, "4")

    assert error.value.retry_after == 1
    assert error.value.message.endswith("Original description: Too Many Requests: retry after 1")
    assert len(user.chat.messages) == messages, "a refused call is not executed"
    tap = await user.tap("A", message=user.chat.find(with_button.message_id))
    assert await bot.answer_callback_query(tap.query_id), "answers do not count"
    assert await bot.send_message(other.id, "another chat has its own bucket")
    assert (len(limits.sent), limits.refused) == (4, 1)
    emulator.lift_limits()
    assert await bot.send_message(user.id, "4")


async def test_fail_next_forces_errors_and_every_call_is_recorded(
    emulator: TelegramEmulator, bot: Bot, user: SimUser
) -> None:
    emulator.fail_next("sendMessage", 500, "Internal Server Error", times=2)
    emulator.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)

    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_message(user.id, "x")
    with pytest.raises(TelegramRetryAfter) as error:
        await bot.send_message(user.id, "x")
    await bot.send_message(user.id, "x", reply_markup=keyboard(("A", "a")))

    calls = emulator.calls_of("sendMessage")
    assert [(c.ok, c.error_code) for c in calls] == [
        (False, 500),
        (False, 500),
        (False, 429),
        (True, None),
    ]
    assert error.value.retry_after == 3
    assert calls[-1].params["chat_id"] == user.id
    assert calls[-1].params["reply_markup"] == {
        "inline_keyboard": [[{"text": "A", "callback_data": "a"}]]
    }
    assert calls[-1].result["text"] == "x"
    emulator.reset_calls()
    assert emulator.calls == []


class GetNothing(TelegramMethod[bool]):
    __returning__: ClassVar[type] = bool
    __api_method__: ClassVar[str] = "getNothing"


async def test_unknown_methods_and_foreign_tokens_are_refused(
    emulator: TelegramEmulator, bot: Bot
) -> None:
    stranger = make_bot(emulator.base_url, "654321:other-token")
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await stranger.get_me()
    finally:
        await stranger.session.close()

    with pytest.raises(TelegramNotFound, match="Not Found"):
        await bot(GetNothing())


# -- raw HTTP: body encodings and malformed tokens ---------------------------------------------


async def test_json_urlencoded_and_multipart_bodies_are_accepted(
    emulator: TelegramEmulator, user: SimUser
) -> None:
    url = f"{emulator.base_url}/bot{TOKEN}/sendMessage"
    markup = '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}'
    multipart = aiohttp.FormData({"chat_id": str(user.id), "text": "form", "reply_markup": markup})
    multipart.add_field("document", b"ignored", filename="a.txt")
    async with aiohttp.ClientSession() as http:
        replies = [
            await (await http.post(url, json={"chat_id": user.id, "text": "<i>json</i>"})).json(),
            await (await http.post(url, data={"chat_id": str(user.id), "text": "url"})).json(),
            await (await http.post(url, data=multipart)).json(),
            await (await http.get(f"{emulator.base_url}/bot0:bad/getMe")).json(),
            await (await http.get(f"{emulator.base_url}/elsewhere")).json(),
        ]

    assert [r.get("result", {}).get("text") for r in replies[:3]] == ["<i>json</i>", "url", "form"]
    assert [b.text for row in user.messages[2].buttons for b in row] == ["A"]
    assert replies[3] == {
        "ok": False,
        "error_code": 401,
        "description": "Unauthorized: invalid token specified",
    }
    assert replies[4] == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_stopping_answers_a_waiting_long_poll_at_once() -> None:
    emulator = TelegramEmulator(TOKEN)
    await emulator.start()
    async with aiohttp.ClientSession() as http:
        url = f"{emulator.base_url}/bot{TOKEN}/getUpdates?timeout=50"
        waiting = asyncio.create_task(http.get(url))
        await emulator.wait_until(lambda: emulator.is_long_polling)
        await emulator.stop()
        response = await asyncio.wait_for(waiting, timeout=5)

        assert await response.json() == {"ok": True, "result": []}


# -- the rest of the supported methods -------------------------------------------------------


async def test_commands_are_stored_per_scope_and_language(
    emulator: TelegramEmulator, bot: Bot
) -> None:
    scope = BotCommandScopeAllPrivateChats()
    commands = [BotCommand(command="start", description="Начать")]

    await bot.set_my_commands(commands, scope=scope, language_code="ru")
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])

    assert emulator.my_commands({"type": "all_private_chats"}, "ru") == [
        {"command": "start", "description": "Начать"}
    ]
    assert emulator.my_commands() is None
    returned = await bot.get_my_commands(scope=scope, language_code="ru")
    assert [c.model_dump() for c in returned] == [c.model_dump() for c in commands]
    assert await bot.delete_my_commands(scope=scope, language_code="ru")
    assert await bot.get_my_commands(scope=scope, language_code="ru") == []


async def test_me_chat_actions_webhook_and_chat_info(
    emulator: TelegramEmulator, bot: Bot, user: SimUser
) -> None:
    await user.send("queued")

    me = await bot.get_me()
    info = await bot.get_webhook_info()
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.send_chat_action(user.id, "typing")
    chat = await bot.get_chat(user.id)
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await bot.send_chat_action(user.id, "dancing")

    assert (me.id, me.is_bot, me.username) == (123456, True, "test_bot")
    assert (info.url, info.pending_update_count) == ("", 1)
    assert emulator.pending_updates == []
    assert user.chat_actions == ["typing"]
    assert (chat.id, chat.type, chat.first_name) == (user.id, "private", "Ann <&>")
