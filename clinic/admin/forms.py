"""Reading admin form fields into typed values, or into messages beside the fields.

Pure: no database. Every problem is keyed by the id of the input the error summary should
focus (for a date, the first part that is wrong), worded as what to do (GOV.UK style).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time

from clinic.errors import InvalidInput

EARLIEST_YEAR = 1950
LATEST_YEAR = 2100
_DIGITS = re.compile(r"[0-9]{1,4}", re.ASCII)
_CLOCK = re.compile(r"([0-9]{1,2})(?:[:.]([0-9]{2}))?\s*([ap])\.?\s*m?\.?", re.ASCII | re.I)
_CLOCK_24 = re.compile(r"([0-9]{1,2})(?:[:.]([0-9]{2}))?", re.ASCII)


def form_values(form: Mapping[str, object], *names: str) -> dict[str, str]:
    """The named fields as stripped strings ("" when missing), to re-show on bad input."""
    return {name: str(form.get(name, "") or "").strip() for name in names}


def date_fields(name: str) -> tuple[str, str, str]:
    return (f"{name}-day", f"{name}-month", f"{name}-year")


class Checker:
    """Collects field problems while a form is read; `done()` raises them together."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, message)

    def done(self) -> None:
        if self.errors:
            raise InvalidInput("Check the highlighted answers.", field_errors=dict(self.errors))

    def text(
        self,
        values: Mapping[str, str],
        field: str,
        *,
        missing: str | None = None,
        max_length: int = 200,
        label: str = "This",
    ) -> str:
        """Stripped text; `missing` is the message when it is required and blank."""
        value = values.get(field, "").strip()
        if not value and missing is not None:
            self.fail(field, missing)
        elif len(value) > max_length:
            self.fail(field, f"{label} must be {max_length} characters or fewer")
        return value

    def whole_number(
        self,
        values: Mapping[str, str],
        field: str,
        *,
        label: str,
        low: int,
        high: int,
        missing: str | None = None,
    ) -> int | None:
        """A whole number between `low` and `high`; blank is None unless `missing` is set."""
        raw = values.get(field, "").strip().replace(",", "")
        if not raw:
            if missing is not None:
                self.fail(field, missing)
            return None
        if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
            self.fail(field, f"{label} must be a whole number, like {max(low, 1)}")
            return None
        number = int(raw)
        if not low <= number <= high:
            self.fail(field, f"{label} must be between {low} and {high}")
            return None
        return number

    def day(
        self, values: Mapping[str, str], name: str, *, what: str, required: bool
    ) -> date | None:
        """A date written as day, month and year fields (`name-day`, `name-month`,
        `name-year`). Blank is None unless `required`."""
        day_field, month_field, year_field = date_fields(name)
        raw = {
            "day": values.get(day_field, "").strip(),
            "month": values.get(month_field, "").strip(),
            "year": values.get(year_field, "").strip(),
        }
        fields = {"day": day_field, "month": month_field, "year": year_field}
        if not any(raw.values()):
            if required:
                self.fail(day_field, f"Enter the {what}")
            return None
        blank = [part for part, text in raw.items() if not text]
        if blank:
            self.fail(fields[blank[0]], f"The {what} must include a {' and a '.join(blank)}")
            return None
        for part, text in raw.items():
            if not _DIGITS.fullmatch(text):
                self.fail(fields[part], f"The {what} must be a real date, in numbers")
                return None
        if len(raw["year"]) != 4:
            self.fail(year_field, "The year must include 4 numbers, like 2027")
            return None
        year, month, day_number = int(raw["year"]), int(raw["month"]), int(raw["day"])
        if not 1 <= month <= 12:
            self.fail(month_field, f"The {what} must be a real date: the month is 1 to 12")
            return None
        try:
            found = date(year, month, day_number)
        except ValueError:
            self.fail(day_field, f"The {what} must be a real date")
            return None
        if not EARLIEST_YEAR <= found.year <= LATEST_YEAR:
            self.fail(year_field, f"The year must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
            return None
        return found

    def clock(self, values: Mapping[str, str], field: str, *, what: str) -> time | None:
        """A time of day: 9:30, 09:30, 17:30, 9.30, 9am or 5:30pm. Blank is None."""
        raw = values.get(field, "").strip()
        if not raw:
            return None
        found = parse_clock(raw)
        if found is None:
            self.fail(field, f"Enter the {what} as a time, like 9:00 or 17:30")
        return found


def parse_clock(raw: str) -> time | None:
    """A time of day from what people type, or None."""
    text = raw.strip().lower()
    if len(text) > 12:
        return None
    if match := _CLOCK.fullmatch(text):
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        if not 1 <= hour <= 12 or minute > 59:
            return None
        hour = hour % 12 + (12 if match.group(3) == "p" else 0)
        return time(hour, minute)
    if match := _CLOCK_24.fullmatch(text):
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        if hour > 23 or minute > 59:
            return None
        return time(hour, minute)
    return None


def clock_text(moment: time) -> str:
    """17:30 as "17:30", for refilling a time field."""
    return moment.strftime("%H:%M")


def checked(form: Mapping[str, object], field: str) -> bool:
    return str(form.get(field, "")) == "yes"
