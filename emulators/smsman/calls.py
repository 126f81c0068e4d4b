"""The record of every call made to the emulator's control API."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Call:
    """One control call; `answer` is "ok", the error_code answered, or "fault:<kind>".

    `time` is when it was answered (or its fault began) on the emulator's clock; `arrived` when
    it came in, on the event loop's clock, which the rate limit counts on.
    """

    endpoint: str
    method: str
    # Without the token, so a record can be shown or logged as it is.
    params: dict[str, str]
    time: float
    answer: str
    arrived: float
