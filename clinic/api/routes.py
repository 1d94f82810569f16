"""Read endpoints of the public API. Input problems answer 422 with a problem body that
names each bad parameter; nothing here ever answers 500 for bad input."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clinic.booking.taking import over_session_cap
from clinic.clock import today_in
from clinic.errors import InvalidInput
from clinic.intake.service import listing_care
from clinic.scheduling.service import free_times, public_services, public_therapists
from clinic.web.context import db_of, settings_of
from clinic.web.ids import ID_PATTERN

MAX_RANGE_DAYS = 31
# Ids fit PostgreSQL's integer: a longer number is refused as a parameter, not sent on.
_ID = re.compile(rf"^{ID_PATTERN}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


async def services(request: Request) -> Response:
    currency = settings_of(request).currency
    async with db_of(request).reading() as session:
        rows = await public_services(session)
    return JSONResponse(
        {
            "services": [
                {
                    "id": s.id,
                    "name": s.name,
                    "public_name": s.public_name,
                    "description": s.description,
                    "duration_minutes": s.duration_minutes,
                    "price": {"amount": s.price_minor, "currency": currency},
                    "min_oncology_level": s.min_oncology_level,
                    "lymphedema_needed": s.needs_lymphedema,
                }
                for s in rows
            ]
        }
    )


async def therapists(request: Request) -> Response:
    today = today_in(settings_of(request).zone)
    async with db_of(request).reading() as session:
        rows = await public_therapists(session, today)
    return JSONResponse(
        {
            "therapists": [
                {
                    "id": row.therapist.id,
                    "display_name": row.therapist.display_name,
                    "oncology_level": row.qualification.oncology_level,
                    "lymphedema": row.qualification.lymphedema,
                    "service_ids": list(row.service_ids),
                }
                for row in rows
            ]
        }
    )


@dataclass(frozen=True)
class AvailabilityQuery:
    service_id: int
    first_day: date
    last_day: date
    therapist_id: int | None
    intake_token: str | None = None
    cancer_history: bool | None = None


def parse_availability_query(params: QueryParams, *, today: date) -> AvailabilityQuery:
    """Check every parameter and report all problems at once."""
    errors: dict[str, str] = {}
    known = {"service_id", "from", "to", "therapist_id", "intake_token", "cancer_history"}
    for name in params:
        if name not in known:
            errors[name] = (
                f"Unknown parameter {name!r}. Use service_id, from, to, therapist_id,"
                " intake_token and cancer_history."
            )
    intake_token = _one(params, "intake_token", errors)
    if intake_token is not None and not 10 <= len(intake_token) <= 100:
        errors["intake_token"] = "Give the intake_token POST /api/v1/intakes returned."  # noqa: S105
    cancer_history = _one(params, "cancer_history", errors)
    if cancer_history not in (None, "yes", "no"):
        errors["cancer_history"] = "Answer cancer_history with yes or no."
    service_id = _id(params, "service_id", errors, required=True)
    therapist_id = _id(params, "therapist_id", errors, required=False)
    first = _date(params, "from", errors)
    last = _date(params, "to", errors)
    if first is not None and first < today:
        errors["from"] = f"Choose a date from today ({today.isoformat()}) onwards."
    if first is not None and last is not None and "from" not in errors and "to" not in errors:
        if last < first:
            errors["to"] = "The 'to' date must be the same as or after the 'from' date."
        elif (last - first).days + 1 > MAX_RANGE_DAYS:
            errors["to"] = f"Ask for at most {MAX_RANGE_DAYS} days at a time."
    if errors or service_id is None or first is None or last is None:
        raise InvalidInput("Some query parameters are not right.", field_errors=errors)
    return AvailabilityQuery(
        service_id,
        first,
        last,
        therapist_id,
        intake_token,
        None if cancer_history is None else cancer_history == "yes",
    )


def _one(params: QueryParams, name: str, errors: dict[str, str]) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        errors[name] = f"Give {name} once."
        return None
    return values[0] if values else None


def _id(params: QueryParams, name: str, errors: dict[str, str], *, required: bool) -> int | None:
    values = params.getlist(name)
    if not values:
        if required:
            errors[name] = f"Give {name}: the id of a service from /api/v1/services."
        return None
    if len(values) > 1 or not _ID.match(values[0]):
        errors[name] = f"Give {name} as one positive whole number."
        return None
    return int(values[0])


def _date(params: QueryParams, name: str, errors: dict[str, str]) -> date | None:
    values = params.getlist(name)
    if not values:
        errors[name] = f"Give '{name}' as a date, YYYY-MM-DD."
        return None
    if len(values) > 1 or not _DATE.match(values[0]):
        errors[name] = f"Give '{name}' as one date written YYYY-MM-DD."
        return None
    try:
        return date.fromisoformat(values[0])
    except ValueError:
        errors[name] = f"The '{name}' date does not exist on the calendar."
        return None


async def availability(request: Request) -> Response:
    today = today_in(settings_of(request).zone)
    query = parse_availability_query(request.query_params, today=today)
    db = db_of(request)
    async with db.reading() as session:
        care = await listing_care(
            session, intake_token=query.intake_token, cancer_history=query.cancer_history
        )
    found = await free_times(
        db,
        service_id=query.service_id,
        first_day=query.first_day,
        last_day=query.last_day,
        therapist_id=query.therapist_id,
        care=care,
    )
    if found is None or not found.service.bookable_online:
        raise InvalidInput(
            "Some query parameters are not right.",
            field_errors={
                "service_id": "There is no service with that id that can be booked online."
            },
        )
    if query.therapist_id is not None and query.therapist_id not in found.therapist_ids:
        raise InvalidInput(
            "Some query parameters are not right.",
            field_errors={"therapist_id": "No active therapist with that id offers this service."},
        )
    if found.over_session_cap and care is not None:
        raise over_session_cap(care)
    window = found.policies.booking_window_days
    if query.last_day > today + timedelta(days=window):
        last_bookable = (today + timedelta(days=window)).isoformat()
        raise InvalidInput(
            "Some query parameters are not right.",
            field_errors={
                "to": f"Bookings open {window} days ahead: choose a date up to {last_bookable}."
            },
        )
    zone = found.zone
    return JSONResponse(
        {
            "timezone": zone.key,
            "slots": [
                {
                    "start": slot.start.astimezone(zone).isoformat(),
                    "end": slot.end.astimezone(zone).isoformat(),
                    "therapist_id": slot.therapist_id,
                    "room_id": slot.room_id,
                }
                for slot in found.slots
            ],
        }
    )
