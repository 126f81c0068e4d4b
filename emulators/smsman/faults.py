"""Transport faults the tests can inject into the emulator's control endpoints."""

import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from emulators.smsman.errors import ErrorMsg


class FaultKind(StrEnum):
    """What the faulty call gets instead of its answer.

    http_500: a JSON body outside SMS-man's envelope; http_502: an nginx HTML page;
    malformed: 200 with broken JSON; html: 200 with an HTML page; timeout: no answer for
    `seconds`, then the call takes effect and answers if the client still waits; drop: the
    connection closes without an answer; error_code: 200 with the given code and msg;
    empty_list: 200 with []; too_many_requests: the 429 of the emulator's rate limit (the call
    is not carried out); lost_response and late_answer: see below.
    """

    HTTP_500 = "http_500"
    HTTP_502 = "http_502"
    MALFORMED = "malformed"
    HTML = "html"
    TIMEOUT = "timeout"
    DROP = "drop"
    ERROR_CODE = "error_code"
    EMPTY_LIST = "empty_list"
    TOO_MANY_REQUESTS = "too_many_requests"
    # The call takes effect (a purchase is charged, a reject refunded), then the answer
    # is replaced by an HTTP 500: "the provider acted but we never heard".
    LOST_RESPONSE = "lost_response"
    # The call takes effect at once, and its answer comes only after `seconds`: a client
    # that gives up sooner never hears that the provider sold or refunded.
    LATE_ANSWER = "late_answer"


@dataclass(frozen=True)
class Fault:
    """One injected fault; `seconds` matters for TIMEOUT and LATE_ANSWER, `code` and `msg`
    for ERROR_CODE."""

    kind: FaultKind
    seconds: float = 60.0
    code: str = "unknown_error"
    msg: ErrorMsg = "Unknown error"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ValueError(f"seconds must be positive, not {self.seconds!r}")
        if not self.code:
            raise ValueError("code must not be empty")


class FaultPlan:
    """Per endpoint, the faults the next calls get, in the order they were asked for."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Fault]] = {}

    def add(self, endpoint: str, fault: Fault, times: int) -> None:
        if times < 1:
            raise ValueError(f"times must be at least 1, not {times}")
        self._queues.setdefault(endpoint, deque()).extend([fault] * times)

    def take(self, endpoint: str) -> Fault | None:
        queue = self._queues.get(endpoint)
        return queue.popleft() if queue else None

    def clear(self) -> None:
        self._queues.clear()


# Yii2's default error body, which a Yii application such as SMS-man's site plausibly sends;
# the real 500 body is unknown (emulator choice).
SERVER_ERROR_JSON = (
    '{"name":"Internal Server Error","message":"An internal server error occurred.",'
    '"code":0,"status":500}'
)

BAD_GATEWAY_HTML = """<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""

# What a bot sees when a DDoS-protection page answers in place of the API.
CHALLENGE_HTML = """<!DOCTYPE html>
<html lang="en-US">
<head><title>Just a moment...</title></head>
<body><noscript>Enable JavaScript and cookies to continue</noscript></body>
</html>
"""

# Cut off mid-string, as when a proxy truncates the body.
MALFORMED_JSON = '{"balance":"79'
