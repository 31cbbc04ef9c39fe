"""The notifier's clock. `NOTIFIER_CLOCK_OFFSET` (an ISO 8601 duration such as `P8D`, or seconds)
moves it forward for demos and tests: the scheduler, the delivery worker and the API then live
that far in the future. Leave it unset (zero) in production."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


@dataclass(frozen=True)
class Clock:
    offset: timedelta = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset
