"""When to try a failed delivery again (pure).

Exponential backoff: the first retry waits the channel's ``retry_backoff``,
each further one twice as long, up to ``retry_max_backoff``. Jitter adds up
to a quarter on top (never less than the nominal wait: a receiver that asked
for 30 s gets at least 30 s), so digests that failed together do not all come
back in the same second. A peer's ``Retry-After`` wins over the schedule,
within a day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

JITTER = 0.25
MAX_RETRY_AFTER = 86400.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff: float = 30.0
    max_backoff: float = 3600.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        nominal = min(self.max_backoff, self.backoff * 2.0 ** min(attempt - 1, 60))
        return nominal * (1 + rng.uniform(0, JITTER))

    def next_attempt(
        self,
        attempt: int,
        now: datetime,
        rng: random.Random,
        retry_after: float | None = None,
    ) -> datetime | None:
        """When to try again after failed attempt ``attempt``; None when it was the last."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            wait = min(max(retry_after, 0.0), MAX_RETRY_AFTER)
        else:
            wait = self.delay(attempt, rng)
        return now + timedelta(seconds=wait)
