"""Records the Telegram emulator keeps: chats as the user sees them, calls, callback queries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from emulators.telegram.html import Entity, check_url

ApiObject = dict[str, Any]
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
MAX_CALLBACK_DATA_BYTES = 64
# Telegram's limit on the buttons of one inline keyboard (community-measured: a 101st is
# refused, whatever the rows).
MAX_INLINE_BUTTONS = 100
MARKUP_TOO_LONG = "Bad Request: reply markup is too long"


class ApiError(Exception):
    """A Bot API failure: the HTTP status is the error code, as Telegram answers it."""

    def __init__(self, error_code: int, description: str, *, retry_after: int | None = None):
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> ApiObject:
        body: ApiObject = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass(frozen=True)
class Button:
    text: str
    callback_data: str | None = None
    url: str | None = None

    def __str__(self) -> str:
        action = self.callback_data if self.url is None else f"-> {self.url}"
        return f"[{self.text} | {action}]"


@dataclass(eq=False)
class ChatMessage:
    """A message as the user sees it; edits are applied in place."""

    message_id: int
    from_bot: bool
    text: str
    date: int
    entities: list[Entity] = field(default_factory=list)
    html: str | None = None
    reply_markup: ApiObject | None = None
    reply_to_message_id: int | None = None
    edited: int = 0
    edit_date: int | None = None
    deleted: bool = False
    # The chat's change counter when this message last changed, to tell fresh ones from stale.
    version: int = 0
    # An invoice the bot sent (its payload is the bot's, never shown to the person), or a
    # payment the person made: such messages have no text.
    invoice: ApiObject | None = None
    invoice_payload: str | None = None
    successful_payment: ApiObject | None = None
    # Who wrote a person's message in a group; in a private chat it is the chat's user.
    sender: ApiObject | None = None

    @property
    def buttons(self) -> list[list[Button]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [
            [Button(b["text"], b.get("callback_data"), b.get("url")) for b in row] for row in rows
        ]

    def __str__(self) -> str:
        author = "bot" if self.from_bot else "user"
        notes = [f"edited {self.edited}x"] if self.edited else []
        notes += ["deleted"] if self.deleted else []
        suffix = f"  ({', '.join(notes)})" if notes else ""
        shown = self.text
        if self.invoice is not None:
            shown = f"[invoice {self.invoice['title']}: {self.invoice['total_amount']} ⭐]"
        elif self.successful_payment is not None:
            shown = f"[paid {self.successful_payment['total_amount']} ⭐]"
        lines = [f"#{self.message_id} {author}: {shown}{suffix}"]
        lines += ["    " + " ".join(str(button) for button in row) for row in self.buttons]
        return "\n".join(lines)


@dataclass(frozen=True)
class CallbackAnswer:
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None


@dataclass
class CallbackQuery:
    id: str
    user_id: int
    message_id: int
    data: str
    created_at: float
    answer: CallbackAnswer | None = None


@dataclass
class Call:
    """One Bot API request, recorded when it arrives; ``ok`` stays None until it is answered."""

    method: str
    params: ApiObject
    time: float
    ok: bool | None = None
    result: Any = None
    error_code: int | None = None
    description: str | None = None


@dataclass(eq=False)
class Chat:
    """A private chat with one user, whose id is the chat id."""

    user: ApiObject
    messages: list[ChatMessage] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    reply_keyboard: ApiObject | None = None
    blocked: bool = False
    version: int = 0

    @property
    def id(self) -> int:
        return int(self.user["id"])

    @property
    def instance(self) -> str:
        return str(7_000_000_000_000 + self.id)

    def api_object(self) -> ApiObject:
        keys = ("first_name", "last_name", "username")
        return {"id": self.id, "type": "private"} | {
            k: self.user[k] for k in keys if k in self.user
        }

    def add(self, message: ChatMessage) -> ChatMessage:
        self.messages.append(message)
        self.touch(message)
        return message

    def touch(self, message: ChatMessage) -> None:
        self.version += 1
        message.version = self.version

    def next_message_id(self) -> int:
        return len(self.messages) + 1

    def find(self, message_id: object) -> ChatMessage | None:
        for message in self.messages:
            if message.message_id == message_id and not message.deleted:
                return message
        return None


@dataclass(eq=False)
class GroupChat(Chat):
    """A supergroup the bot was added to, where anyone may write and tap (as with privacy
    mode off: every message reaches the bot). `user` is unused."""

    group_id: int = -1
    title: str = "Group"

    @property
    def id(self) -> int:
        return self.group_id

    @property
    def instance(self) -> str:
        return str(8_000_000_000_000 - self.group_id)

    def api_object(self) -> ApiObject:
        return {"id": self.group_id, "type": "supergroup", "title": self.title}


def parse_reply_markup(raw: object) -> tuple[ApiObject | None, ApiObject | None]:
    """(inline keyboard, reply keyboard) from a reply_markup parameter, checked like Telegram."""
    if raw is None or raw == "":
        return None, None
    markup = raw
    if isinstance(raw, str):
        try:
            markup = json.loads(raw)
        except ValueError:
            markup = None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None, markup
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(
            400,
            'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup '
            "should be an Array of Arrays",
        )
    keyboard = [[_check_button(button) for button in row] for row in rows]
    if sum(map(len, keyboard)) > MAX_INLINE_BUTTONS:
        raise ApiError(400, MARKUP_TOO_LONG)
    return ({"inline_keyboard": keyboard} if any(keyboard) else None), None


def _check_button(button: object) -> ApiObject:
    prefix = "Bad Request: can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise ApiError(400, prefix + "InlineKeyboardButton should be an Object")
    if not isinstance(button.get("text"), str):
        raise ApiError(400, prefix + 'Field "text" must be of type String')
    if not any(button.get(action) is not None for action in _BUTTON_ACTIONS):
        raise ApiError(400, prefix + "Text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if data is not None and (
        not isinstance(data, str) or not 0 < len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
    ):
        raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and (not isinstance(url, str) or check_url(url) is None):
        raise ApiError(400, f"Bad Request: inline keyboard button URL '{url}' is invalid")
    return {key: value for key, value in button.items() if value is not None}
