"""An emulator of the Telegram Bot API over HTTP, with simulated people who write and tap."""

from emulators.telegram.api import BLOCKED, CONFLICT, NOT_MODIFIED, QUERY_TOO_OLD
from emulators.telegram.emulator import DEFAULT_TOKEN, TelegramEmulator, decode_param
from emulators.telegram.models import (
    Button,
    Call,
    CallbackAnswer,
    CallbackQuery,
    ChatMessage,
    GroupChat,
)
from emulators.telegram.user import SimUser, Tap
from emulators.telegram.webhook import (
    SECRET_HEADER,
    TERMINATED_BY_SET_WEBHOOK,
    WEBHOOK_ACTIVE,
    WebhookAttempt,
)

__all__ = [
    "BLOCKED",
    "CONFLICT",
    "DEFAULT_TOKEN",
    "NOT_MODIFIED",
    "QUERY_TOO_OLD",
    "SECRET_HEADER",
    "TERMINATED_BY_SET_WEBHOOK",
    "WEBHOOK_ACTIVE",
    "Button",
    "Call",
    "CallbackAnswer",
    "CallbackQuery",
    "ChatMessage",
    "GroupChat",
    "SimUser",
    "Tap",
    "TelegramEmulator",
    "WebhookAttempt",
    "decode_param",
]
