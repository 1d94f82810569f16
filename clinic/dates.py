"""Dates in words, the same everywhere and without a locale: "2 September 2026"."""

from __future__ import annotations

from datetime import date

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def day_month_year(day: date) -> str:
    """``1 November 2026``: no leading zero, English month names."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"
