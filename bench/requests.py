"""The requests the scenarios send: availability queries rotating over therapists and
start days, booking bodies for free grid cells, the mixed 90/10 list, the storms' slots."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from bench import dataset
from bench.dataset import Clinic
from bench.wrk import Req

SEED = 2026
WINDOW_DAYS = 7
FIRST_DAYS = 14  # availability asks start on each of the next 14 days, in turn
BOOKING_DAYS = range(29, 89)  # past the generated future (28 days), inside the 90-day window
STORM_ROUNDS = 20
MIXED_ITEMS = 20_000
JSON_HEADERS = {"Content-Type": "application/json"}


def _first_days(clinic: Clinic) -> list[date]:
    return [clinic.today + timedelta(days=1 + i) for i in range(FIRST_DAYS)]


def _availability_query(clinic: Clinic, first: date, therapist: int | None) -> str:
    params: dict[str, Any] = {"service_id": clinic.general_service_id}
    if therapist is not None:
        params["therapist_id"] = therapist
    last = first + timedelta(days=WINDOW_DAYS - 1)
    params.update({"from": first.isoformat(), "to": last.isoformat()})
    return urlencode(params)


def one_therapist_queries(clinic: Clinic, therapists: int) -> list[str]:
    """Each of the first `therapists` therapists over 7 days from each of the next 14
    days, shuffled: nothing is asked twice in a row."""
    queries = [
        _availability_query(clinic, first, therapist)
        for therapist in clinic.therapist_ids[:therapists]
        for first in _first_days(clinic)
    ]
    random.Random(SEED).shuffle(queries)
    return queries


def clinic_wide_queries(clinic: Clinic) -> list[str]:
    queries = [_availability_query(clinic, first, None) for first in _first_days(clinic)]
    random.Random(SEED).shuffle(queries)
    return queries


def gets(path: str, queries: Sequence[str]) -> list[Req]:
    return [Req("GET", f"{path}?{query}") for query in queries]


def booking_body(clinic: Clinic, therapist: int, day: date, slot: int, email: str) -> str:
    return json.dumps(
        {
            "service_id": clinic.general_service_id,
            "therapist_id": therapist,
            "start": clinic.slot_start(day, slot).astimezone(clinic.zone).isoformat(),
            "client": {"name": "Bench Booker", "email": email, "phone": "(215) 555-0123"},
        }
    )


def _workdays(clinic: Clinic, offsets: range) -> list[date]:
    days = [clinic.today + timedelta(days=n) for n in offsets]
    return [d for d in days if d.weekday() in dataset.WORKDAYS]


def last_booking_day(clinic: Clinic) -> date:
    return _workdays(clinic, BOOKING_DAYS)[-1]


def booking_requests(clinic: Clinic) -> list[Req]:
    """Free grid cells, one therapist after another: the requests in flight at any moment
    are for one therapist at different times, so they never race for a room (the app gives
    every booking at one time the same room while it is free). The last therapist is kept
    for the storms."""
    requests = []
    for therapist in clinic.therapist_ids[:-1]:
        for day in _workdays(clinic, BOOKING_DAYS):
            for slot in range(dataset.SLOTS_PER_DAY):
                email = f"book-{therapist}-{day:%Y%m%d}-{slot}@bench.test"
                body = booking_body(clinic, therapist, day, slot, email)
                requests.append(Req("POST", "/api/v1/bookings", body))
    return requests


def mixed_requests(clinic: Clinic) -> list[Req]:
    """Nine reads (one therapist or clinic-wide, over 7 days) to one booking attempt at a
    random grid cell in the next 88 days: some are free, many are taken (409 expected)."""
    rng = random.Random(SEED)
    queries = one_therapist_queries(clinic, len(clinic.therapist_ids)) + clinic_wide_queries(clinic)
    reads = gets("/api/v1/availability", queries)
    days = _workdays(clinic, range(1, 89))
    requests = []
    for i in range(MIXED_ITEMS):
        if i % 10 == 9:
            therapist = rng.choice(clinic.therapist_ids[:-1])
            day, slot = rng.choice(days), rng.randrange(dataset.SLOTS_PER_DAY)
            body = booking_body(clinic, therapist, day, slot, f"mixed-{i}@bench.test")
            requests.append(Req("POST", "/api/v1/bookings", body))
        else:
            requests.append(rng.choice(reads))
    return requests


def storm_starts(clinic: Clinic) -> list[datetime]:
    """08:00 on each of the first 20 booking days: the last therapist's, never booked."""
    days = _workdays(clinic, BOOKING_DAYS)[:STORM_ROUNDS]
    return [clinic.slot_start(day, 0) for day in days]
