"""docs/lifecycle.md, written from `bot.orders.lifecycle.TABLE` by `make docs`; tested so."""

from __future__ import annotations

from pathlib import Path

from bot.orders.lifecycle import (
    FOLLOW_UPS,
    LIVE_STATUSES,
    PERSON_EVENTS,
    REFUNDED,
    TABLE,
    Answer,
    Event,
    OrderStatus,
    Tell,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "lifecycle.md"

STATUSES = {
    OrderStatus.PURCHASING: "the order row is written; get-number is under way",
    OrderStatus.ACTIVE: "a number is rented; waiting for its SMS",
    OrderStatus.CODE_RECEIVED: "a code came and was stored (and pushed)",
    OrderStatus.WAITING_AGAIN: "the person asked for another SMS; the provider waits again",
    OrderStatus.CLOSED: "finished with a code; SMS-man kept the money",
    OrderStatus.CANCELLED: "given back (reject or used) and confirmed; SMS-man refunded it",
    OrderStatus.EXPIRED: "no code by the deadline, or forgotten by SMS-man with no code seen",
    OrderStatus.FAILED: "get-number answered an error, or never left: nothing was sold",
    OrderStatus.LOST: "get-number left and its answer never came: a number may have been sold",
}
EVENTS = {
    Event.BUY: "a Buy tap (a quote buys once; the order of a quote already used is shown)",
    Event.RETRY: "a Try again tap (a failed order is tried again once)",
    Event.CANCEL: "Cancel",
    Event.USED: "Number already used or banned",
    Event.ANOTHER: "Another SMS",
    Event.DONE: "Done",
    Event.POLL: "the poller's look before the deadline",
    Event.DEADLINE: "the poller's look at or after the deadline",
    Event.RESTART: "the bot starts again (after a crash or a stop)",
    Event.PURCHASE: "follow-up: the purchase a new order sets going",
    Event.READY: "follow-up: ask SMS-man for another SMS",
    Event.CLOSE: "follow-up: close the request after Done",
    Event.RELEASE: "follow-up: reject (no code) or close (a code) at the deadline",
    Event.CHECK: "follow-up: look after SMS-man refused to take a number back",
    Event.RECHECK: "follow-up: look after SMS-man refused the release at the deadline",
}

HEADER = """# The order lifecycle

<!-- Written by `make docs` from bot/orders/lifecycle.py; edit the table there, not here. -->

Every change of an order's status follows one table, `bot/orders/lifecycle.py`. For the order's
status and an event, the table names the one SMS-man call to make; the call's answer names the
next status, what the person is told, and maybe a follow-up event. The orders service
(`bot/orders/service.py`) is its only interpreter: steps for one order take turns, each status
change is a compare-and-set on the status the step was taken from, and a code is stored together
with the status it brings in one transaction. A step with no call that changes nothing answers
at once.

## What it promises, and how we know

- **One purchase per intent.** A quote buys at most once, and an order that definitely sold
  nothing (FAILED) is tried again at most once: its retry is the same intent, so later taps of
  the same button show the order it made. After an answer that never came (a timeout after
  sending, a 5xx, a crash), the order is LOST and the person is told they *may* have been
  charged (SMS-man refunds a number that expires unused); buying again goes through the price
  screen, a new and deliberate purchase.
- **Every code delivered once.** A code is stored with its status in one transaction, then pushed;
  it counts as delivered only after Telegram's OK. At the deadline the bot looks at get-sms
  before it rejects, and a reject refused because a code came is followed by a look. A chat
  Telegram refuses for good (403, a 400) ends the push with a note on the order (`/orders`
  shows it); a temporary refusal is retried. A crash between Telegram's OK and the record of it
  pushes that code again after the restart (at least once beats never).
- **Refunded only when refunded.** "Refunded" is said after SMS-man accepted the reject or used,
  or when SMS-man forgot a request whose last look saw no code; "charged" where it kept the money.
- **Released on time.** The last look is taken at the deadline itself; while SMS-man does not
  answer, the release is retried with back-off and the card says it is pending.

`tests/test_lifecycle_model.py` searches for counterexamples: a hypothesis state machine drives the
production bot against both emulators on one virtual clock, with taps (one to three at once),
SMS at any moment and around deadlines, SMS-man and Telegram faults, and crashes before any
effect, and checks every promise against the emulators' records after each step. `make soak`
runs it far longer from a random seed. With each fix reverted locally, the `make test` search
reported (2026-12-01):

- a Try again that buys on every tap: "3 taps on o:6:2 bought 3 numbers";
- a deadline that rejects without a last look and retries a refused reject: "order 4 still
  active 4.3 s after its deadline";
- a code and its status written apart, without the status mended by the next look: "order 2
  says expired, the provider kept the money", and an order still open at the end;
- a failing "buying" answer that leaves the order in purchasing: "update 2 failed: Telegram
  server says - Internal Server Error".

## Statuses

| Status | Meaning |
|---|---|
"""


def _cell(event: Event, status: OrderStatus, answer: Answer) -> list[str]:
    rule = TABLE[status, event]
    then = rule.then[answer]
    call = rule.call.value if rule.call is not None else "—"
    shown = "—" if answer is Answer.NONE else answer.value
    moved = "(stays)" if then.status is status else f"**{then.status.value}**"
    follow = then.follow.value if then.follow is not None else ""
    return [event.value, call, shown, moved, then.tell.value, follow]


def render() -> str:
    lines = [HEADER.rstrip("\n")]
    lines += [f"| {status.value} | {STATUSES[status]} |" for status in OrderStatus]
    lines += ["", "Refunded: " + ", ".join(s.value for s in REFUNDED) + "."]
    lines += ["Polled until their deadline: " + ", ".join(s.value for s in LIVE_STATUSES) + "."]
    lines += ["", "## Events", "", "| Event | What it is |", "|---|---|"]
    lines += [f"| {event.value} | {EVENTS[event]} |" for event in Event]
    lines += [
        "",
        "A person's events (and the follow-ups they set going) are told on the person's own "
        "screen: " + ", ".join(e.value for e in Event if e in PERSON_EVENTS) + ". The others "
        "redraw the order's card when the status changes and send a note for: "
        + ", ".join(t.value for t in (Tell.EXPIRED, Tell.GONE, Tell.MAY_BE_CHARGED))
        + ".",
        "",
        "## The table",
        "",
        "A follow-up that finds the order in a status it does not apply to (another step got "
        "there first) does nothing; those rows are left out below.",
    ]
    for status in OrderStatus:
        lines += [
            "",
            f"### {status.value}",
            "",
            "| Event | SMS-man call | Answer | Next status | The person is told | Then |",
            "|---|---|---|---|---|---|",
        ]
        for event in Event:
            rule = TABLE[status, event]
            overtaken = rule.call is None and rule.then[Answer.NONE].tell is Tell.NOTHING
            if event not in FOLLOW_UPS or not overtaken:
                for answer in rule.then:
                    lines.append("| " + " | ".join(_cell(event, status, answer)) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
