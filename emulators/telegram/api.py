"""The Bot API methods the emulator serves, over its world of users, chats and updates."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from emulators.telegram.entities import find_entities
from emulators.telegram.models import (
    ApiError,
    ApiObject,
    CallbackAnswer,
    CallbackQuery,
    Chat,
    ChatMessage,
    parse_reply_markup,
)
from emulators.telegram.text import finish_text, read_text

T = TypeVar("T")
Method = Callable[[ApiObject], Awaitable[Any]]

CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Update types Telegram only sends when asked for them by name.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
MAX_LONG_POLL_S = 50
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


def _int_arg(params: ApiObject, name: str, default: int) -> int:
    value = params.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def loop_time() -> float:
    # Ages and rate windows on the running loop's clock, so they follow a virtual loop too.
    return asyncio.get_running_loop().time()


def _commands_key(params: ApiObject) -> tuple[str, str]:
    scope = params.get("scope")
    scope = scope if isinstance(scope, dict) else {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")


class BotApi:
    """The state behind the Bot API: every change wakes whoever waits for one."""

    def __init__(
        self,
        token: str | None,
        bot_first_name: str,
        bot_username: str,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        # Message dates; a simulation passes its virtual clock so a run replays byte for byte.
        self._wall_clock = wall_clock
        self.bot_first_name = bot_first_name
        self.bot_username = bot_username
        self.callback_answer_max_age: float | None = None
        self.chats: dict[int, Chat] = {}
        self.callback_queries: dict[str, CallbackQuery] = {}
        self.dropped_updates: list[ApiObject] = []
        self._commands: dict[tuple[str, str], list[ApiObject]] = {}
        self._updates: list[ApiObject] = []
        self._allowed_updates: frozenset[str] | None = None
        self._seen_token: str | None = None
        self._closing = False
        self._poll_generation = 0
        self._active_poll: int | None = None
        # The 409 a waiting long poll gets when something ends it early.
        self._poll_abort_reason = CONFLICT
        self._next_update_id = 1
        self._next_query_id = 1
        # Replaced on every change: waiters hold the old one, which is set to wake them.
        self._changed = asyncio.Event()
        self._methods: dict[str, Method] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "getChat": self._get_chat,
            "close": self._ignored,
            "logOut": self._ignored,
        }

    @property
    def bot_user(self) -> ApiObject:
        token = self.token or self._seen_token
        if token is None:
            raise RuntimeError("no token configured and none seen yet")
        return {
            "id": int(token.partition(":")[0]),
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _date(self) -> int:
        return int(self._wall_clock())

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _wait(self, predicate: Callable[[], T | None]) -> T:
        while True:
            changed = self._changed
            result = predicate()
            if result:
                return result
            await changed.wait()

    def queue_update(self, kind: str, payload: ApiObject) -> int | None:
        """Queue an update; like Telegram, drop it if the bot did not ask for its type."""
        allowed = self._allowed_updates
        if (kind in OPT_IN_UPDATES) if allowed is None else (kind not in allowed):
            self.dropped_updates.append({kind: payload})
            self._notify()
            return None
        update_id = self._next_update_id
        self._next_update_id += 1
        self._updates.append({"update_id": update_id, kind: copy.deepcopy(payload)})
        self._notify()
        return update_id

    def message_object(
        self, chat: Chat, message: ChatMessage, *, nested: bool = False
    ) -> ApiObject:
        data: ApiObject = {
            "message_id": message.message_id,
            "from": self.bot_user if message.from_bot else (message.sender or chat.user),
            "chat": chat.api_object(),
            "date": message.date,
        }
        if message.invoice is not None:
            data["invoice"] = message.invoice
        elif message.successful_payment is not None:
            data["successful_payment"] = message.successful_payment
        else:
            data["text"] = message.text
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.entities:
            data["entities"] = message.entities
        if message.reply_markup is not None:
            data["reply_markup"] = message.reply_markup
        target = chat.find(message.reply_to_message_id)
        if target is not None and not nested:
            data["reply_to_message"] = self.message_object(chat, target, nested=True)
        return copy.deepcopy(data)

    def user_sends(self, chat: Chat, text: str, sender: ApiObject | None = None) -> ChatMessage:
        """A message to the bot in `chat`, written by `sender` (a group's member) or by the
        private chat's user."""
        if chat.blocked:
            raise AssertionError(f"user {chat.id} blocked the bot; unblock them first")
        if not text.strip():
            raise ValueError("Telegram clients do not send empty messages")
        message = ChatMessage(chat.next_message_id(), False, text, self._date(), sender=sender)
        message.entities = find_entities(text)
        chat.add(message)
        self.queue_update("message", self.message_object(chat, message))
        return message

    def user_taps(
        self, chat: Chat, message: ChatMessage, data: str, sender: ApiObject | None = None
    ) -> CallbackQuery:
        query_id = str(4_000_000 + self._next_query_id)
        self._next_query_id += 1
        tapper = sender or chat.user
        query = CallbackQuery(query_id, int(tapper["id"]), message.message_id, data, loop_time())
        self.callback_queries[query_id] = query
        payload = {
            "id": query_id,
            "from": tapper,
            "message": self.message_object(chat, message),
            "chat_instance": chat.instance,
            "data": data,
        }
        self.queue_update("callback_query", payload)
        return query

    def _set_blocked(self, chat: Chat, *, blocked: bool) -> None:
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        bot = self.bot_user
        member = {"status": "member", "user": bot}
        kicked = {"status": "kicked", "until_date": 0, "user": bot}
        self.queue_update(
            "my_chat_member",
            {
                "chat": chat.api_object(),
                "from": chat.user,
                "date": self._date(),
                "old_chat_member": member if blocked else kicked,
                "new_chat_member": kicked if blocked else member,
            },
        )

    def _lookup_user(self, user_id: int) -> ApiObject | None:
        chat = self.chats.get(user_id)
        return None if chat is None else dict(chat.user)

    # -- checks shared by the methods ------------------------------------------------------

    def _chat(self, params: ApiObject) -> Chat:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    @staticmethod
    def _check_reachable(chat: Chat) -> None:
        if chat.blocked:
            raise ApiError(403, BLOCKED)

    def _message_to_edit(self, params: ApiObject) -> tuple[Chat, ChatMessage]:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._chat(params)
        message = chat.find(params.get("message_id"))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, message

    def _edited(self, chat: Chat, message: ChatMessage) -> ApiObject:
        message.edited += 1
        message.edit_date = self._date()
        chat.touch(message)
        self._notify()
        return self.message_object(chat, message)

    # -- methods ---------------------------------------------------------------------------

    async def _ignored(self, _params: ApiObject) -> bool:
        return True

    async def _get_me(self, _params: ApiObject) -> ApiObject:
        return self.bot_user | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _get_updates(self, params: ApiObject) -> list[ApiObject]:
        offset = _int_arg(params, "offset", 0)
        limit = min(max(_int_arg(params, "limit", 100), 1), 100)
        timeout = min(max(_int_arg(params, "timeout", 0), 0), MAX_LONG_POLL_S)
        self._set_allowed_updates(params.get("allowed_updates"))
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        if not self._updates and timeout > 0 and not self._closing:
            await self._long_poll(timeout)
        return copy.deepcopy(self._updates[:limit])

    def _set_allowed_updates(self, allowed: object) -> None:
        # Absent keeps the last choice; an empty list asks for Telegram's default again.
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(map(str, allowed)) if allowed else None

    def _abort_long_poll(self, reason: str) -> None:
        """End the waiting long poll, if any, with a 409 ``reason``."""
        self._poll_generation += 1
        self._poll_abort_reason = reason
        self._notify()

    async def _long_poll(self, seconds: float) -> None:
        # Like Telegram, a newer long poll wins and the one it replaces gets the 409.
        self._abort_long_poll(CONFLICT)
        generation = self._poll_generation
        self._active_poll = generation
        self._notify()
        try:
            async with asyncio.timeout(seconds):
                await self._wait(
                    lambda: self._updates or self._closing or self._poll_generation != generation
                )
        except TimeoutError:
            pass
        finally:
            if self._active_poll == generation:
                self._active_poll = None
                self._notify()
        if self._poll_generation != generation:
            raise ApiError(409, self._poll_abort_reason)

    async def _set_my_commands(self, params: ApiObject) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or not all(isinstance(c, dict) for c in commands):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            if not _COMMAND.fullmatch(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[_commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _get_my_commands(self, params: ApiObject) -> list[ApiObject]:
        return copy.deepcopy(self._commands.get(_commands_key(params), []))

    async def _delete_my_commands(self, params: ApiObject) -> bool:
        self._commands.pop(_commands_key(params), None)
        return True

    async def _send_message(self, params: ApiObject) -> ApiObject:
        plain, entities, html = read_text(params, self._lookup_user)
        inline, reply_keyboard = parse_reply_markup(params.get("reply_markup"))
        chat = self._chat(params)
        text, entities = finish_text(plain, entities)
        reply = params.get("reply_parameters")
        reply = reply if isinstance(reply, dict) else {}
        reply_to = reply.get("message_id", params.get("reply_to_message_id"))
        if reply_to is not None and chat.find(reply_to) is None:
            if not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
            reply_to = None
        self._check_reachable(chat)
        message = ChatMessage(chat.next_message_id(), True, text, self._date(), entities)
        message.html, message.reply_markup, message.reply_to_message_id = html, inline, reply_to
        if reply_keyboard is not None:
            chat.reply_keyboard = None if reply_keyboard.get("remove_keyboard") else reply_keyboard
        chat.add(message)
        self._notify()
        return self.message_object(chat, message)

    async def _edit_message_text(self, params: ApiObject) -> ApiObject:
        plain, entities, html = read_text(params, self._lookup_user)
        inline, _ = parse_reply_markup(params.get("reply_markup"))
        chat, message = self._message_to_edit(params)
        text, entities = finish_text(plain, entities)
        self._check_reachable(chat)
        if (text, entities, inline) == (message.text, message.entities, message.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        message.text, message.entities, message.html = text, entities, html
        # An edit without reply_markup drops the keyboard, as on Telegram.
        message.reply_markup = inline
        return self._edited(chat, message)

    async def _edit_message_reply_markup(self, params: ApiObject) -> ApiObject:
        inline, _ = parse_reply_markup(params.get("reply_markup"))
        chat, message = self._message_to_edit(params)
        self._check_reachable(chat)
        if inline == message.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        message.reply_markup = inline
        return self._edited(chat, message)

    async def _delete_message(self, params: ApiObject) -> bool:
        chat = self._chat(params)
        message = chat.find(params.get("message_id"))
        if message is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        message.deleted = True
        chat.touch(message)
        self._notify()
        return True

    async def _answer_callback_query(self, params: ApiObject) -> bool:
        query = self.callback_queries.get(str(params.get("callback_query_id", "")))
        max_age = self.callback_answer_max_age
        if (
            query is None
            or query.answer is not None
            or (max_age is not None and loop_time() - query.created_at > max_age)
        ):
            raise ApiError(400, QUERY_TOO_OLD)
        text, url = params.get("text"), params.get("url")
        # Telegram shows at most 200 characters of an answer.
        if isinstance(text, str) and len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answer = CallbackAnswer(
            text=text if isinstance(text, str) else None,
            show_alert=bool(params.get("show_alert")),
            url=url if isinstance(url, str) else None,
            cache_time=_int_arg(params, "cache_time", 0) or None,
        )
        self._notify()
        return True

    async def _send_chat_action(self, params: ApiObject) -> bool:
        chat = self._chat(params)
        action = params.get("action")
        if action not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        self._check_reachable(chat)
        chat.actions.append(str(action))
        self._notify()
        return True

    async def _get_chat(self, params: ApiObject) -> ApiObject:
        chat = self._chat(params)
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        return chat.api_object() | {
            "accent_color_id": chat.id % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": dict.fromkeys(gifts, True) | {"gifts_from_channels": True},
        }
