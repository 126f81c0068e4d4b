"""The bot's Prometheus metrics, one registry per application, and what each outside service
last answered."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

PREFIX = "smsman_bot"
# From a code SMS-man showed to its message in the chat: seconds, not minutes, are the promise.
DELIVERY_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300)


@dataclass
class Reachability:
    """Whether a service answered its last call at all; a refusal is an answer."""

    reachable: bool | None = None
    last_ok_at: float | None = None
    failing_since: float | None = None
    last_error: str | None = None

    def answered(self, now: float) -> None:
        self.reachable, self.last_ok_at, self.failing_since = True, now, None

    def failed(self, now: float, error: str) -> None:
        if self.reachable is not False:
            self.failing_since = now
        self.reachable, self.last_error = False, error

    def report(self) -> dict[str, object]:
        return asdict(self)


class Metrics:
    """Every number the bot exports; its own registry, so each application (and each test) has
    fresh counters."""

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry()
        self._now = wall_clock
        r = self.registry
        # Memory, CPU and open files of this process (process_*), as the default registry has.
        ProcessCollector(registry=r)
        self.updates = Counter(
            f"{PREFIX}_updates", "Telegram updates handled, by type", ["type"], registry=r
        )
        self.purchases = Counter(
            f"{PREFIX}_purchases",
            "Buy and Try again taps, by what they came to (bought, no_numbers, limit, ...)",
            ["outcome"],
            registry=r,
        )
        self.orders_open = Gauge(f"{PREFIX}_orders_open", "Orders not finished yet", registry=r)
        self.codes_delivered = Counter(
            f"{PREFIX}_codes_delivered", "Codes pushed to their chat", registry=r
        )
        self.code_delivery = Histogram(
            f"{PREFIX}_code_delivery_seconds",
            "From SMS-man showing a code to its message in the chat",
            buckets=DELIVERY_BUCKETS,
            registry=r,
        )
        self.smsman_calls = Counter(
            f"{PREFIX}_smsman_calls",
            "SMS-man requests, by endpoint and outcome (ok, refused, rate_limited, timeout, "
            "unavailable, malformed)",
            ["endpoint", "outcome"],
            registry=r,
        )
        # Registered at the first reading: a 0 before it would look like an empty account.
        self.smsman_balance: Gauge | None = None
        self.telegram_calls = Counter(
            f"{PREFIX}_telegram_calls",
            "Bot API calls, by method and outcome (ok, refused, error)",
            ["method", "outcome"],
            registry=r,
        )
        self.telegram_429 = Counter(
            f"{PREFIX}_telegram_429", "Bot API calls Telegram refused with 429", registry=r
        )
        self.reachable = Gauge(
            f"{PREFIX}_reachable",
            "1 when the service answered its last call (a refusal counts), 0 when it did not",
            ["service"],
            registry=r,
        )
        self.poller_heartbeat_age = Gauge(
            f"{PREFIX}_poller_heartbeat_age_seconds",
            "Seconds since the order poller last went round its loop",
            registry=r,
        )
        self.telegram = Reachability()
        self.smsman = Reachability()
        self._children: dict[tuple[object, ...], Counter] = {}
        self._reached: dict[str, bool] = {}

    def update(self, kind: str) -> None:
        self._child(self.updates, kind).inc()

    def smsman_call(self, endpoint: str, outcome: str, *, reached: bool, error: str = "") -> None:
        self._child(self.smsman_calls, endpoint, outcome).inc()
        self._reach("smsman", self.smsman, reached, error)

    def telegram_call(self, method: str, outcome: str, *, reached: bool, error: str = "") -> None:
        self._child(self.telegram_calls, method, outcome).inc()
        self._reach("telegram", self.telegram, reached, error)

    def _child(self, counter: Counter, *labels: str) -> Counter:
        # Every Bot API call and poll passes here: prometheus-client's labels() takes a lock and
        # builds a key each time, a dict lookup does not.
        key = (id(counter), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(*labels)
        return child

    def _reach(self, name: str, service: Reachability, reached: bool, error: str) -> None:
        if reached:
            service.answered(self._now())
        else:
            service.failed(self._now(), error)
        if self._reached.get(name) is not reached:
            self._reached[name] = reached
            self.reachable.labels(name).set(1 if reached else 0)

    def balance(self, amount: Decimal) -> None:
        if self.smsman_balance is None:
            self.smsman_balance = Gauge(
                f"{PREFIX}_smsman_balance",
                "The owner's SMS-man balance, last read",
                registry=self.registry,
            )
        self.smsman_balance.set(float(amount))

    def code_pushed(self, latency: float) -> None:
        self.codes_delivered.inc()
        self.code_delivery.observe(max(0.0, latency))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
