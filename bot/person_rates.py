"""How often one person may do the costlier things: typed searches, messages to the owner."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.rate_limits import SlidingWindow, TokenBucket

# Typed searches: each reads the whole catalog and sends a screen. Two a second is faster
# than anyone types for long, and slower than a script; the first few come at any pace (a
# country, an app, a correction typed in quick succession are never refused).
SEARCHES_PER_SECOND = 2.0
SEARCH_BURST = 10
# "Too fast" is said at most this often; searches beyond are dropped without a word.
SEARCH_NOTICE_EVERY = 10.0
# /paysupport reaches every admin: three an hour tell them all a person has to say.
PAY_SUPPORT = 3
PAY_SUPPORT_WINDOW = 3600.0


@dataclass(frozen=True)
class PersonRates:
    """The windows the handlers check, on the application's clock (built by the factory)."""

    search: TokenBucket
    search_notice: SlidingWindow
    pay_support: SlidingWindow

    @classmethod
    def on(cls, clock: Clock) -> PersonRates:
        return cls(
            search=TokenBucket(SEARCHES_PER_SECOND, SEARCH_BURST, clock),
            search_notice=SlidingWindow(1, SEARCH_NOTICE_EVERY, clock),
            pay_support=SlidingWindow(PAY_SUPPORT, PAY_SUPPORT_WINDOW, clock),
        )
