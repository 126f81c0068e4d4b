"""The emulator's optional rate limit: requests per token in any sliding second, more refused."""

from collections import deque

WINDOW = 1.0


class RequestRate:
    """Counts each request on arrival against its token; one more than `per_second` within a
    second (the window slides over the arrivals) is refused and not counted against later ones.

    SMS-man documents no limit (smsman-api.md §4): the limit and its refusal are the
    emulator's, so that a client going over its own SMSMAN_MAX_RPS is caught, not served.
    """

    def __init__(self, per_second: float | None = None) -> None:
        if per_second is not None and not per_second > 0:
            raise ValueError(f"per_second must be positive, not {per_second!r}")
        self.per_second = per_second
        self.refused = 0
        self._arrivals: dict[str, deque[float]] = {}

    def admit(self, token: str, now: float) -> bool:
        if self.per_second is None:
            return True
        arrivals = self._arrivals.setdefault(token, deque())
        while arrivals and arrivals[0] + WINDOW <= now:
            arrivals.popleft()
        if len(arrivals) + 1 > self.per_second:
            self.refused += 1
            return False
        arrivals.append(now)
        return True

    def reset(self) -> None:
        self.refused = 0
        self._arrivals.clear()
