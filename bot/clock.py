"""The injectable wall clock: seconds since the epoch, so deadlines survive restarts."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]

system_clock: Clock = time.time
