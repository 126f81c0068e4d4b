"""A simulated Telegram user who writes to the bot, taps its buttons and reads its replies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from emulators.telegram.models import Button, CallbackAnswer, Chat, ChatMessage, GroupChat

if TYPE_CHECKING:
    from emulators.telegram.emulator import TelegramEmulator
    from emulators.telegram.payments import PreCheckout

T = TypeVar("T")
DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Tap:
    """A callback query the user sent by tapping a button."""

    query_id: str
    data: str
    message: ChatMessage
    user: SimUser

    @property
    def answer(self) -> CallbackAnswer | None:
        return self.user.emulator.callback_queries[self.query_id].answer

    async def answered(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - waits here are bounded by design
    ) -> CallbackAnswer:
        """The bot's answerCallbackQuery for this tap, once it comes."""
        return await self.user.wait_for(
            lambda _user: self.answer, timeout=timeout, waiting_for=f"an answer to {self}"
        )

    def __str__(self) -> str:
        return f"tap {self.query_id} data={self.data!r} on message #{self.message.message_id}"


class SimUser:
    """One user in a private chat with the bot; the chat id is the user id."""

    def __init__(self, emulator: TelegramEmulator, chat: Chat) -> None:
        self.emulator = emulator
        self.chat = chat
        # The chat's change counter at this user's last action: what changed after it is fresh.
        self._mark = 0

    @property
    def id(self) -> int:
        return self.chat.id

    @property
    def api_object(self) -> dict[str, Any]:
        return dict(self.chat.user)

    @property
    def messages(self) -> list[ChatMessage]:
        """Every message the user can still see, theirs and the bot's, oldest first."""
        return [message for message in self.chat.messages if not message.deleted]

    @property
    def bot_messages(self) -> list[ChatMessage]:
        return [message for message in self.messages if message.from_bot]

    @property
    def last_bot_message(self) -> ChatMessage | None:
        return self.bot_messages[-1] if self.bot_messages else None

    @property
    def deleted_messages(self) -> list[ChatMessage]:
        return [message for message in self.chat.messages if message.deleted]

    @property
    def chat_actions(self) -> list[str]:
        return list(self.chat.actions)

    @property
    def reply_keyboard(self) -> dict[str, Any] | None:
        return self.chat.reply_keyboard

    def mark(self) -> None:
        """From now on only messages sent or edited after this count as fresh."""
        self._mark = self.chat.version

    async def send(self, text: str) -> ChatMessage:
        """Write a message to the bot; a leading /command gets its bot_command entity."""
        self.mark()
        return self.emulator.user_sends(self.chat, text)

    async def tap(
        self, button: str, *, exact: bool = False, message: ChatMessage | None = None
    ) -> Tap:
        """Tap the button whose text contains ``button`` (or equals it, with ``exact``) on the
        newest bot message that has one, or on ``message``."""
        candidates = [message] if message is not None else self.bot_messages[::-1]
        for candidate in candidates:
            found = [
                b
                for row in candidate.buttons
                for b in row
                if (b.text == button if exact else button in b.text)
            ]
            if len(found) > 1:
                names = ", ".join(str(b) for b in found)
                raise AssertionError(
                    f"{button!r} matches several buttons on #{candidate.message_id}: {names}"
                )
            if found:
                return await self._tap_button(candidate, found[0])
        raise AssertionError(f"no button matching {button!r}\n{self.transcript()}")

    async def _tap_button(self, message: ChatMessage, button: Button) -> Tap:
        if button.callback_data is None:
            raise AssertionError(f"{button} sends no callback query: it is not a callback button")
        return await self.tap_data(button.callback_data, message=message)

    async def tap_data(self, callback_data: str, *, message: ChatMessage | None = None) -> Tap:
        """Send a callback query with any data, as a forged or stale client could."""
        target = message if message is not None else self.last_bot_message
        if target is None:
            raise AssertionError(f"the bot has sent no message to tap on\n{self.transcript()}")
        self.mark()
        query = self.emulator.user_taps(self.chat, target, callback_data)
        return Tap(query.id, callback_data, target, self)

    async def send_in(self, group: GroupChat, text: str) -> ChatMessage:
        """Write to the bot in a group, as this user."""
        return self.emulator.user_sends(group, text, sender=self.chat.user)

    async def tap_in(self, group: GroupChat, message: ChatMessage, data: str) -> Tap:
        """Tap a button with `data` on a message in a group, as this user."""
        query = self.emulator.user_taps(group, message, data, sender=self.chat.user)
        return Tap(query.id, data, message, self)

    async def pay(self, invoice: ChatMessage) -> PreCheckout:
        """Tap Pay on an invoice; the payment goes through once the bot says ok in time."""
        self.mark()
        return self.emulator.user_pays(self.chat, invoice)

    async def wait_for(
        self,
        predicate: Callable[[SimUser], T | None],
        *,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - waits here are bounded by design
        waiting_for: str = "the condition",
    ) -> T:
        """The first truthy ``predicate(user)``, checked again whenever anything changes."""
        return await self.emulator.wait_until(
            lambda: predicate(self),
            timeout=timeout,
            describe=lambda: f"waiting for {waiting_for}\n{self.transcript()}",
        )

    async def wait_for_message(
        self,
        predicate: Callable[[ChatMessage], bool],
        *,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - waits here are bounded by design
        fresh: bool = True,
        waiting_for: str = "a matching bot message",
    ) -> ChatMessage:
        """The most recently changed bot message that satisfies ``predicate``.

        With ``fresh`` only messages sent or edited since the user's last send, tap or
        ``mark()`` count, so an old reply with the same words cannot satisfy a wait for the
        new one.
        """

        def newest(_user: SimUser) -> ChatMessage | None:
            matches = [
                message
                for message in self.bot_messages
                if (not fresh or message.version > self._mark) and predicate(message)
            ]
            return max(matches, key=lambda message: message.version, default=None)

        return await self.wait_for(newest, timeout=timeout, waiting_for=waiting_for)

    async def wait_for_text(
        self,
        substring: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - waits here are bounded by design
        fresh: bool = True,
    ) -> ChatMessage:
        """The bot message, new or edited, whose plain text contains ``substring``."""
        return await self.wait_for_message(
            lambda message: substring in message.text,
            timeout=timeout,
            fresh=fresh,
            waiting_for=f"a bot message containing {substring!r}",
        )

    def transcript(self) -> str:
        """The chat as the user sees it, plus what the emulator knows, for failure messages."""
        name = " ".join(
            filter(None, [self.chat.user["first_name"], self.chat.user.get("last_name")])
        )
        lines = [f"chat with {name} (id {self.id}), newest last:"]
        lines += ["  " + line for m in self.chat.messages for line in str(m).splitlines()]
        lines += [f"chat actions: {self.chat.actions}"] if self.chat.actions else []
        return "\n".join([*lines, self.emulator.describe()])
