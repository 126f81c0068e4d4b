"""The lifecycle table: complete, keeping its money rules by construction, and documented."""

from __future__ import annotations

from bot.orders.lifecycle import (
    FINAL_STATUSES,
    FOLLOW_UPS,
    OPEN_STATUSES,
    REFUNDED,
    TABLE,
    WITH_CODE,
    Answer,
    Call,
    Event,
    OrderStatus,
)
from tests.lifecycle_doc import DOC, render
from tests.model.checks import longest_chain

PROVIDER_FAULTS = {Answer.GONE, Answer.FAULT}


def moves() -> list[tuple[OrderStatus, Event, Answer, OrderStatus]]:
    return [
        (status, event, answer, then.status)
        for (status, event), rule in TABLE.items()
        for answer, then in rule.then.items()
    ]


def test_every_status_meets_every_event() -> None:
    assert {(s, e) for s in OrderStatus for e in Event} == set(TABLE)


def test_every_answer_a_call_can_get_has_a_rule() -> None:
    for (status, event), rule in TABLE.items():
        answers = set(rule.then)
        if rule.call is None:
            assert answers == {Answer.NONE}, (status, event)
        elif rule.call is Call.GET_NUMBER:
            assert answers == {
                Answer.SOLD,
                Answer.NO_NUMBERS,
                Answer.NO_MONEY,
                Answer.REFUSED,
                Answer.NOT_SENT,
                Answer.UNKNOWN,
            }, (status, event)
        elif rule.call is Call.GET_SMS:
            assert answers == {
                Answer.NEW_CODE,
                Answer.KNOWN_CODE,
                Answer.NO_CODE,
                *PROVIDER_FAULTS,
            }, (status, event)
        else:
            assert answers == {Answer.OK, Answer.WRONG_STATUS, *PROVIDER_FAULTS}, (status, event)


def test_a_finished_order_never_moves_or_calls() -> None:
    for status in FINAL_STATUSES:
        for event in Event:
            rule = TABLE[status, event]
            assert rule.call is None, (status, event)
            assert rule.then[Answer.NONE].status is status


def test_refunded_only_where_the_provider_gave_the_money_back() -> None:
    """Only an order without a code is refunded, on an accepted reject or used, or when the
    provider forgot it (an unused request expires with a refund)."""
    for status, event, answer, after in moves():
        if after in REFUNDED and after is not status:
            assert status is OrderStatus.ACTIVE, (status, event, answer)
            assert answer in (Answer.OK, Answer.GONE), (status, event, answer)
            assert TABLE[status, event].call in (Call.REJECT, Call.REPORT_USED, Call.GET_SMS)


def test_a_code_is_never_rejected_and_never_lost_from_the_status() -> None:
    for status, event, answer, after in moves():
        rule = TABLE[status, event]
        if status in WITH_CODE:
            assert rule.call not in (Call.REJECT, Call.REPORT_USED), (status, event)
            assert after not in (*REFUNDED, OrderStatus.ACTIVE), (status, event)
        if answer is Answer.NEW_CODE:
            assert after is OrderStatus.CODE_RECEIVED, (status, event)


def test_only_a_purchase_whose_answer_was_lost_is_lost() -> None:
    for status, event, answer, after in moves():
        if after is OrderStatus.LOST and status is not OrderStatus.LOST:
            assert status is OrderStatus.PURCHASING
            assert answer is Answer.UNKNOWN or event is Event.RESTART, (status, event, answer)


def test_the_deadline_looks_before_it_lets_go() -> None:
    for status in OPEN_STATUSES:
        rule = TABLE[status, Event.DEADLINE]
        if status is not OrderStatus.PURCHASING:
            assert rule.call is Call.GET_SMS
            assert rule.then[Answer.NO_CODE].follow is Event.RELEASE
            assert rule.then[Answer.KNOWN_CODE].follow is Event.RELEASE
            assert rule.then[Answer.NEW_CODE].follow is Event.RELEASE


def test_follow_ups_only_come_after_a_step() -> None:
    follows = {then.follow for rule in TABLE.values() for then in rule.then.values()}
    assert follows - {None} <= FOLLOW_UPS


def test_every_chain_of_follow_ups_ends() -> None:
    """The service follows the table until a step has none: a loop would never end."""
    assert longest_chain() <= 4


def test_the_document_is_the_table() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "run `make docs`"
