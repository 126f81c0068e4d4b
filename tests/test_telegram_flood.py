"""The emulator's send limits, against a hand-turned clock: Telegram's numbers, exactly."""

from __future__ import annotations

import pytest

from emulators.telegram.flood import FloodLimits, counts_against_limits
from emulators.telegram.models import ApiError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refused(limits: FloodLimits, chat_id: int) -> int:
    """The retry_after of the 429 a send to `chat_id` gets now; fails if it goes through."""
    with pytest.raises(ApiError) as error:
        limits.check(chat_id)
    assert error.value.error_code == 429
    assert error.value.retry_after is not None
    assert error.value.description == f"Too Many Requests: retry after {error.value.retry_after}"
    return error.value.retry_after


def test_a_chat_gets_a_burst_of_three_then_one_a_second() -> None:
    clock = Clock()
    limits = FloodLimits(clock=clock)
    for _ in range(3):
        limits.check(7)
    assert refused(limits, 7) == 1
    clock.now += 0.5
    assert refused(limits, 7) == 1, "half a token is not a send"
    clock.now += 0.5
    limits.check(7)
    assert refused(limits, 7) == 1
    clock.now += 10
    for _ in range(3):
        limits.check(7)
    assert refused(limits, 7) == 1, "the bucket holds three, however long the chat was quiet"
    assert (len(limits.sent), limits.refused) == (7, 4)


def test_thirty_a_second_over_all_chats_in_a_sliding_window() -> None:
    clock = Clock()
    limits = FloodLimits(clock=clock)
    for chat in range(30):
        limits.check(chat)
        clock.now += 0.01
    assert refused(limits, 100) == 1
    clock.now = 1000.0 + 1.0
    limits.check(100)  # the first send of the window has left it
    assert refused(limits, 101) == 1


def test_twenty_a_minute_in_a_group() -> None:
    clock = Clock()
    limits = FloodLimits(clock=clock)
    for _ in range(20):
        limits.check(-100123)
        clock.now += 1.5
    assert refused(limits, -100123) == 30
    limits.check(5)  # a private chat is not held by a group's limit
    clock.now = 1000.0 + 60.0
    limits.check(-100123)


def test_what_counts() -> None:
    counted = ["sendMessage", "sendPhoto", "sendMediaGroup", "sendInvoice", "editMessageText"]
    counted += ["editMessageReplyMarkup", "copyMessage", "forwardMessage", "stopPoll"]
    free = ["answerCallbackQuery", "answerPreCheckoutQuery", "sendChatAction", "getUpdates"]
    free += ["deleteMessage", "getMe", "setMyCommands"]
    assert all(map(counts_against_limits, counted))
    assert not any(map(counts_against_limits, free))
