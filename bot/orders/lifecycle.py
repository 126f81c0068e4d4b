"""The order lifecycle as one table: status × event → provider call → next status, what we say."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class OrderStatus(StrEnum):
    """Where an order is in its life; only the orders service moves it, by this table."""

    PURCHASING = "purchasing"
    ACTIVE = "active"
    CODE_RECEIVED = "code_received"
    # The person asked for another SMS: the provider is waiting for one again.
    WAITING_AGAIN = "waiting_again"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"
    # get-number was sent and its answer never came: a number may have been sold to us.
    LOST = "lost"


OPEN_STATUSES = (
    OrderStatus.PURCHASING,
    OrderStatus.ACTIVE,
    OrderStatus.CODE_RECEIVED,
    OrderStatus.WAITING_AGAIN,
)
# Open with a live request at the provider: these are polled and end at their deadline.
LIVE_STATUSES = (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED, OrderStatus.WAITING_AGAIN)
WITH_CODE = (OrderStatus.CODE_RECEIVED, OrderStatus.WAITING_AGAIN)
# The provider confirmed the money went back (reject or used accepted, or it forgot a request
# whose last look saw no code, which it refunds as expired).
REFUNDED = (OrderStatus.CANCELLED, OrderStatus.EXPIRED)
# A purchase that definitely sold nothing can be tried again, once: the retry is the same
# intent. A LOST one may hold a number already: buying again is a new, deliberate purchase.
RETRYABLE = (OrderStatus.FAILED,)
# Purchases that ended without a number the bot knows of.
NO_NUMBER = (OrderStatus.FAILED, OrderStatus.LOST)


class Event(StrEnum):
    """What happens to an order: a person's tap, the poller, a restart, or a follow-up step."""

    BUY = "buy"
    RETRY = "retry"
    CANCEL = "cancel"
    USED = "used"
    ANOTHER = "another"
    DONE = "done"
    POLL = "poll"
    DEADLINE = "deadline"
    RESTART = "restart"
    # Follow-ups: the second half of an event that needs two provider calls.
    PURCHASE = "purchase"
    READY = "ready"
    CLOSE = "close"
    RELEASE = "release"
    # A look at get-sms after the provider refused to take a number back.
    CHECK = "check"
    RECHECK = "recheck"


FOLLOW_UPS = frozenset(
    {Event.PURCHASE, Event.READY, Event.CLOSE, Event.RELEASE, Event.CHECK, Event.RECHECK}
)
# A person's taps and what follows from them: the person's own screen tells the outcome.
PERSON_EVENTS = frozenset(
    {
        Event.BUY,
        Event.RETRY,
        Event.CANCEL,
        Event.USED,
        Event.ANOTHER,
        Event.DONE,
        Event.PURCHASE,
        Event.READY,
        Event.CLOSE,
        Event.CHECK,
    }
)


class Call(StrEnum):
    """The one SMS-man call a step makes."""

    GET_NUMBER = "get-number"
    GET_SMS = "get-sms"
    REJECT = "set-status reject"
    REPORT_USED = "set-status used"
    READY = "set-status ready"
    CLOSE = "set-status close"


class Answer(StrEnum):
    """What the provider's answer to a call comes to."""

    NONE = "no call"
    SOLD = "sold"
    NO_NUMBERS = "no numbers"
    NO_MONEY = "balance too low"
    REFUSED = "refused"
    NOT_SENT = "not sent"
    UNKNOWN = "answer lost"
    NEW_CODE = "new code"
    KNOWN_CODE = "a code we have"
    NO_CODE = "no code yet"
    OK = "ok"
    WRONG_STATUS = "wrong_status"
    GONE = "request unknown"
    FAULT = "fault"


class Tell(StrEnum):
    """What the person is told (a screen, a toast, a pushed message, or nothing)."""

    NOTHING = "nothing"
    SHOW_ORDER = "show the order"
    IN_PROGRESS = "already buying"
    BOUGHT = "the number"
    NO_NUMBERS = "no numbers at that price"
    UNAVAILABLE = "buying unavailable"
    NOT_BOUGHT = "not bought, nothing charged"
    MAY_BE_CHARGED = "may have been charged"
    CANCELLED = "cancelled, refunded"
    HAS_CODE = "a code came, cannot cancel"
    TRY_LATER = "SMS-man not answering"
    CODE = "push the code"
    WAITING_AGAIN = "waiting for another SMS"
    FINISHED = "finished"
    EXPIRED = "expired, refunded"
    GONE = "ended by SMS-man"
    PENDING = "release pending"
    # Before any order exists: a Buy that is refused or finds its offer gone.
    FORBIDDEN = "may not buy"
    NOT_FOUND = "not yours or gone"
    PAUSED = "buying paused"
    LIMIT = "over a limit"
    TOP_UP = "not enough in the wallet"


@dataclass(frozen=True, slots=True)
class Then:
    """Where one answer leads: the next status (compare-and-set), the message, a follow-up."""

    status: OrderStatus
    tell: Tell
    follow: Event | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    call: Call | None
    then: Mapping[Answer, Then]


FINAL_STATUSES = tuple(s for s in OrderStatus if s not in OPEN_STATUSES)
_S = OrderStatus

_TABLE: dict[tuple[OrderStatus, Event], Rule] = {}
# An answer's next status (None: unchanged), message and follow-up, as written in the rules.
_Step = tuple[OrderStatus | None, Tell] | tuple[OrderStatus | None, Tell, Event]


def _rule(
    statuses: Iterable[OrderStatus],
    events: Iterable[Event],
    call: Call | None,
    then: Mapping[Answer, _Step],
) -> None:
    """Add one rule for each status and event; a None status in `then` keeps the status."""
    for status in statuses:
        for event in events:
            key = (status, event)
            if key in _TABLE:
                raise ValueError(f"two rules for {key}")
            _TABLE[key] = Rule(
                call,
                MappingProxyType(
                    {
                        answer: Then(step[0] or status, step[1], *step[2:])
                        for answer, step in then.items()
                    }
                ),
            )


def _say(statuses: Iterable[OrderStatus], events: Iterable[Event], tell: Tell) -> None:
    """No provider call: the status stays, the person is told `tell`."""
    _rule(statuses, events, None, {Answer.NONE: (None, tell)})


# -- buying ---------------------------------------------------------------------------------
# A Buy tap with no order for its quote yet creates one in PURCHASING (after the access, pause
# and limit checks) and follows with PURCHASE; a Try again on a FAILED order creates
# its one successor the same way. Later taps of either button find that order.
_rule(
    [_S.PURCHASING],
    [Event.PURCHASE],
    Call.GET_NUMBER,
    {
        Answer.SOLD: (_S.ACTIVE, Tell.BOUGHT),
        Answer.NO_NUMBERS: (_S.FAILED, Tell.NO_NUMBERS),
        Answer.NO_MONEY: (_S.FAILED, Tell.UNAVAILABLE),
        Answer.REFUSED: (_S.FAILED, Tell.NOT_BOUGHT),
        Answer.NOT_SENT: (_S.FAILED, Tell.NOT_BOUGHT),
        Answer.UNKNOWN: (_S.LOST, Tell.MAY_BE_CHARGED),
    },
)
_say([_S.PURCHASING], [Event.BUY, Event.RETRY, Event.CANCEL, Event.USED], Tell.IN_PROGRESS)
_say([_S.PURCHASING], [Event.ANOTHER, Event.DONE], Tell.IN_PROGRESS)
_say([_S.PURCHASING], [Event.POLL, Event.DEADLINE], Tell.NOTHING)
# The crash came after the order row and maybe after get-number left: nobody can tell.
_rule([_S.PURCHASING], [Event.RESTART], None, {Answer.NONE: (_S.LOST, Tell.MAY_BE_CHARGED)})
_say(LIVE_STATUSES, [Event.BUY, Event.RETRY], Tell.SHOW_ORDER)
_say(FINAL_STATUSES, [Event.BUY], Tell.SHOW_ORDER)
_say([_S.CLOSED, _S.CANCELLED, _S.EXPIRED, _S.LOST], [Event.RETRY], Tell.SHOW_ORDER)
# The service buys the successor (once) and tells that purchase's outcome.
_say([_S.FAILED], [Event.RETRY], Tell.SHOW_ORDER)

# -- giving a number back without a code ----------------------------------------------------
_GIVE_BACK: dict[Answer, _Step] = {
    Answer.OK: (_S.CANCELLED, Tell.CANCELLED),
    # The provider refuses, most likely because a code arrived: look.
    Answer.WRONG_STATUS: (None, Tell.NOTHING, Event.CHECK),
    # Gone while our last look saw no code: it is finished there without a code, which
    # refunds (a reject that took effect and whose answer was lost reads the same).
    Answer.GONE: (_S.CANCELLED, Tell.CANCELLED),
    Answer.FAULT: (None, Tell.TRY_LATER),
}
_rule([_S.ACTIVE], [Event.CANCEL], Call.REJECT, _GIVE_BACK)
_rule([_S.ACTIVE], [Event.USED], Call.REPORT_USED, _GIVE_BACK)
_say(WITH_CODE, [Event.CANCEL, Event.USED], Tell.HAS_CODE)
_rule(
    [_S.ACTIVE],
    [Event.CHECK],
    Call.GET_SMS,
    {
        Answer.NEW_CODE: (_S.CODE_RECEIVED, Tell.HAS_CODE),
        Answer.KNOWN_CODE: (_S.CODE_RECEIVED, Tell.HAS_CODE),
        # Refused without a code to show (an early-cancel lock, say): try again later.
        Answer.NO_CODE: (None, Tell.TRY_LATER),
        Answer.GONE: (_S.CANCELLED, Tell.CANCELLED),
        Answer.FAULT: (None, Tell.TRY_LATER),
    },
)

# -- another SMS ------------------------------------------------------------------------------
# Marked before asking: a `ready` that is lost (or cut short by a crash) is sent again by the
# poller, which sees get-sms still showing the code it has.
_say([_S.ACTIVE], [Event.ANOTHER, Event.DONE], Tell.SHOW_ORDER)
_rule(
    [_S.CODE_RECEIVED],
    [Event.ANOTHER],
    None,
    {Answer.NONE: (_S.WAITING_AGAIN, Tell.WAITING_AGAIN, Event.READY)},
)
_say([_S.WAITING_AGAIN], [Event.ANOTHER], Tell.WAITING_AGAIN)
_rule(
    [_S.WAITING_AGAIN],
    [Event.READY],
    Call.READY,
    {
        Answer.OK: (None, Tell.WAITING_AGAIN),
        # SMS-man will not wait for another SMS on this number.
        Answer.WRONG_STATUS: (_S.CODE_RECEIVED, Tell.TRY_LATER),
        Answer.GONE: (_S.CLOSED, Tell.FINISHED),
        Answer.FAULT: (None, Tell.WAITING_AGAIN),
    },
)

# -- done: one last look (a code asked for may be there), then close -------------------------
_rule(
    WITH_CODE,
    [Event.DONE],
    Call.GET_SMS,
    {
        Answer.NEW_CODE: (_S.CODE_RECEIVED, Tell.CODE, Event.CLOSE),
        Answer.KNOWN_CODE: (None, Tell.FINISHED, Event.CLOSE),
        Answer.NO_CODE: (None, Tell.FINISHED, Event.CLOSE),
        Answer.GONE: (_S.CLOSED, Tell.FINISHED),
        Answer.FAULT: (None, Tell.TRY_LATER),
    },
)
_rule(
    WITH_CODE,
    [Event.CLOSE],
    Call.CLOSE,
    {
        Answer.OK: (_S.CLOSED, Tell.FINISHED),
        Answer.WRONG_STATUS: (None, Tell.TRY_LATER),
        Answer.GONE: (_S.CLOSED, Tell.FINISHED),
        Answer.FAULT: (None, Tell.TRY_LATER),
    },
)

# -- the poller -------------------------------------------------------------------------------
_rule(
    [_S.ACTIVE],
    [Event.POLL],
    Call.GET_SMS,
    {
        Answer.NEW_CODE: (_S.CODE_RECEIVED, Tell.CODE),
        # A code we have, on an order that still waits: its status was never written.
        Answer.KNOWN_CODE: (_S.CODE_RECEIVED, Tell.NOTHING),
        Answer.NO_CODE: (None, Tell.NOTHING),
        Answer.GONE: (_S.EXPIRED, Tell.GONE),
        Answer.FAULT: (None, Tell.NOTHING),
    },
)
_rule(
    [_S.WAITING_AGAIN],
    [Event.POLL],
    Call.GET_SMS,
    {
        Answer.NEW_CODE: (_S.CODE_RECEIVED, Tell.CODE),
        # Still the code we have: SMS-man is not waiting for another one, so ask again.
        Answer.KNOWN_CODE: (None, Tell.NOTHING, Event.READY),
        Answer.NO_CODE: (None, Tell.NOTHING),
        Answer.GONE: (_S.CLOSED, Tell.GONE),
        Answer.FAULT: (None, Tell.NOTHING),
    },
)
# Nothing new can arrive before the person asks for another SMS: no call until the deadline.
_say([_S.CODE_RECEIVED], [Event.POLL], Tell.NOTHING)

# -- the deadline: look at get-sms last, then reject (no code) or close (a code) -------------
_LAST_LOOK: dict[Answer, _Step] = {
    Answer.NEW_CODE: (_S.CODE_RECEIVED, Tell.CODE, Event.RELEASE),
    Answer.KNOWN_CODE: (_S.CODE_RECEIVED, Tell.NOTHING, Event.RELEASE),
    Answer.NO_CODE: (None, Tell.NOTHING, Event.RELEASE),
    Answer.GONE: (_S.EXPIRED, Tell.EXPIRED),
    Answer.FAULT: (None, Tell.PENDING),
}
_rule([_S.ACTIVE], [Event.DEADLINE], Call.GET_SMS, _LAST_LOOK)
_rule(
    WITH_CODE,
    [Event.DEADLINE],
    Call.GET_SMS,
    {
        **_LAST_LOOK,
        Answer.KNOWN_CODE: (None, Tell.NOTHING, Event.RELEASE),
        Answer.GONE: (_S.CLOSED, Tell.FINISHED),
    },
)
_rule(
    [_S.ACTIVE],
    [Event.RELEASE],
    Call.REJECT,
    {
        Answer.OK: (_S.EXPIRED, Tell.EXPIRED),
        # A code arrived since the last look: look again and deliver it.
        Answer.WRONG_STATUS: (None, Tell.PENDING, Event.RECHECK),
        Answer.GONE: (_S.EXPIRED, Tell.EXPIRED),
        Answer.FAULT: (None, Tell.PENDING),
    },
)
_rule(
    [_S.ACTIVE],
    [Event.RECHECK],
    Call.GET_SMS,
    {
        Answer.NEW_CODE: (_S.CODE_RECEIVED, Tell.CODE, Event.RELEASE),
        Answer.KNOWN_CODE: (_S.CODE_RECEIVED, Tell.NOTHING, Event.RELEASE),
        # Refused without a code to show: the next round tries the release again.
        Answer.NO_CODE: (None, Tell.PENDING),
        Answer.GONE: (_S.EXPIRED, Tell.EXPIRED),
        Answer.FAULT: (None, Tell.PENDING),
    },
)
_rule(
    WITH_CODE,
    [Event.RELEASE],
    Call.CLOSE,
    {
        Answer.OK: (_S.CLOSED, Tell.FINISHED),
        Answer.WRONG_STATUS: (None, Tell.PENDING),
        Answer.GONE: (_S.CLOSED, Tell.FINISHED),
        Answer.FAULT: (None, Tell.PENDING),
    },
)

# -- a restart: open orders carry on; the poller looks at them again ---------------------------
_say(LIVE_STATUSES, [Event.RESTART], Tell.NOTHING)

# -- finished orders: every tap shows the order as it ended -----------------------------------
_say(
    FINAL_STATUSES,
    [Event.CANCEL, Event.USED, Event.ANOTHER, Event.DONE],
    Tell.FINISHED,
)
_say(FINAL_STATUSES, [Event.POLL, Event.DEADLINE, Event.RESTART], Tell.NOTHING)

# -- a follow-up overtaken by another step (a concurrent tap, the poller) does nothing ---------
_say([s for s in OrderStatus if s is not _S.PURCHASING], [Event.PURCHASE], Tell.NOTHING)
_say([s for s in OrderStatus if s is not _S.WAITING_AGAIN], [Event.READY], Tell.NOTHING)
_say([s for s in OrderStatus if s not in WITH_CODE], [Event.CLOSE], Tell.NOTHING)
_say([s for s in OrderStatus if s not in LIVE_STATUSES], [Event.RELEASE], Tell.NOTHING)
_say([s for s in OrderStatus if s is not _S.ACTIVE], [Event.CHECK, Event.RECHECK], Tell.NOTHING)

TABLE: Mapping[tuple[OrderStatus, Event], Rule] = MappingProxyType(_TABLE)


def rule(status: OrderStatus, event: Event) -> Rule:
    return TABLE[status, event]
