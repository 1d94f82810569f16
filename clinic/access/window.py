"""The care window: the days around a visit in which its own therapist reads the client's
health form and care plan (reliability.md: 30 days back, 14 ahead by default). Pure: no
database, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_DAYS_BACK = 30
DEFAULT_DAYS_AHEAD = 14
# A window wider than a year is no longer "around a visit".
MAX_DAYS = 366


@dataclass(frozen=True)
class CareWindow:
    days_back: int = DEFAULT_DAYS_BACK
    days_ahead: int = DEFAULT_DAYS_AHEAD

    def __post_init__(self) -> None:
        for name, value in (("days_back", self.days_back), ("days_ahead", self.days_ahead)):
            if not 0 <= value <= MAX_DAYS:
                raise ValueError(f"{name} must be 0 to {MAX_DAYS} days (got {value})")

    def holds(self, starts_at: datetime, ends_at: datetime, now: datetime) -> bool:
        """Whether health details of a visit from `starts_at` to `ends_at` show at `now`."""
        return (
            starts_at - timedelta(days=self.days_ahead)
            <= now
            <= ends_at + timedelta(days=self.days_back)
        )

    def describe(self) -> str:
        return (
            f"Health details are shown from {self.days_ahead} days before a visit until "
            f"{self.days_back} days after it."
        )
