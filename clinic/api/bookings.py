"""Booking endpoints of the public API: holds, bookings, and a booking's manage token.

JSON in (application/json, at most 64 KiB), JSON out; every POST honours Idempotency-Key.
The manage token in the path is the client's credential: it never reaches a log line.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clinic.api.idempotency import Answer, answer_once
from clinic.booking.bookings import (
    Booked,
    BookingView,
    ClientDetails,
    book_from_hold,
    book_slot,
    booking_for_token,
    cancel_by_token,
    care_for_booking,
    reschedule_by_token,
)
from clinic.booking.holds import Hold, owner_key, place_hold
from clinic.booking.statuses import AppointmentSource
from clinic.booking.taking import OUT_OF_RANGE, SlotRequest, plausible_start
from clinic.errors import ClinicError, InvalidInput
from clinic.intake.models import IntakeState
from clinic.web.context import client_ip, db_of, settings_of
from clinic.web.errors import ProblemResponse
from clinic.web.ids import MAX_ID

MAX_BODY = 64 * 1024


class UnsupportedMediaType(ClinicError):
    status_code = 415
    title = "Send JSON"


class BodyTooLarge(ClinicError):
    status_code = 413
    title = "Too large"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClientIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    phone: str = Field(min_length=1, max_length=40)


YesNo = Literal["yes", "no"]
INTAKE_TOKEN = Field(
    default=None,
    min_length=10,
    max_length=100,
    description="From POST /api/v1/intakes: only therapists and rooms the plan allows.",
)
CANCER_HISTORY = Field(
    default=None,
    description="The gate question without an intake: 'Have you ever had cancer, or are you"
    " being treated for it now?'. yes: only oncology-trained therapists.",
)


def _plausible_start(start: datetime) -> datetime:
    # Checked here too so that nothing (the care plan for the visit) computes with it first.
    if not plausible_start(start):
        raise PydanticCustomError("start_out_of_range", OUT_OF_RANGE)
    return start


Start = Annotated[AwareDatetime, AfterValidator(_plausible_start)]


def yes_no(answer: YesNo | None) -> bool | None:
    return None if answer is None else answer == "yes"


class HoldIn(Strict):
    service_id: int = Field(ge=1, le=MAX_ID)
    start: Start
    therapist_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    email: str | None = Field(
        default=None, max_length=254, description="Replaces this email's earlier hold."
    )
    intake_token: str | None = INTAKE_TOKEN
    cancer_history: YesNo | None = CANCER_HISTORY


class BookingIn(Strict):
    hold_token: str | None = Field(default=None, min_length=10, max_length=100)
    service_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    therapist_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    start: Start | None = None
    client: ClientIn
    intake_token: str | None = INTAKE_TOKEN
    cancer_history: YesNo | None = CANCER_HISTORY


class RescheduleIn(Strict):
    start: Start
    therapist_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class CancelIn(Strict):
    reason: str = Field(default="", max_length=500)
    medically_excused: bool = Field(
        default=False, description="Illness, a treatment reaction or a hospital stay."
    )


async def _json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("Send the body as JSON with Content-Type: application/json.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise BodyTooLarge(f"The body is larger than {MAX_BODY // 1024} KiB.")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY:
            raise BodyTooLarge(f"The body is larger than {MAX_BODY // 1024} KiB.")
    try:
        return json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInput(
            "The body is not valid JSON.", field_errors={"body": "Send a JSON object."}
        ) from None


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], body: Any) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as invalid:
        errors: dict[str, str] = {}
        for error in invalid.errors():
            field = ".".join(str(part) for part in error["loc"]) or "body"
            errors.setdefault(field, _sentence(error))
        raise InvalidInput("Some fields are missing or not right.", field_errors=errors) from None


def _sentence(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "This field is required."
    if kind == "extra_forbidden":
        return "This field is not expected here."
    if kind in (
        "timezone_aware",
        "datetime_from_date_parsing",
        "datetime_parsing",
        "datetime_type",
    ):
        return "Give a date and time with its offset, like 2026-12-01T09:00:00-05:00."
    message = str(error["msg"])
    return message[0].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _respond(answer: Answer, replayed: bool) -> Response:
    status, body = answer
    response_class = ProblemResponse if status >= 400 else JSONResponse
    response = response_class(body, status_code=status)
    if replayed:
        response.headers["idempotent-replayed"] = "true"
    return response


def _iso(moment: datetime, view_zone: Any) -> str:
    return moment.astimezone(view_zone).isoformat()


def hold_json(hold: Hold, zone: Any) -> dict[str, Any]:
    return {
        "hold_token": hold.token,
        "expires_at": _iso(hold.expires_at, zone),
        "service_id": hold.service_id,
        "therapist_id": hold.therapist_id,
        "room_id": hold.room_id,
        "start": _iso(hold.start, zone),
        "end": _iso(hold.end, zone),
    }


def booked_json(booked: Booked, zone: Any, base_url: str) -> dict[str, Any]:
    missing = booked.intake is IntakeState.MISSING
    return {
        "id": booked.appointment_id,
        "status": booked.status.value,
        "manage_token": booked.manage_token,
        "start": _iso(booked.start, zone),
        "end": _iso(booked.end, zone),
        "therapist_id": booked.therapist_id,
        "room_id": booked.room_id,
        "intake": booked.intake.value,
        # Booked without an intake: the client fills it in here (the email says so too).
        "intake_url": f"{base_url}/manage/{booked.manage_token}/intake" if missing else None,
    }


def booking_json(view: BookingView) -> dict[str, Any]:
    zone = ZoneInfo(view.timezone)
    return {
        "id": view.appointment_id,
        "status": view.status.value,
        "start": _iso(view.start, zone),
        "end": _iso(view.end, zone),
        "timezone": view.timezone,
        "service": {
            "id": view.service_id,
            "name": view.service_name,
            "duration_minutes": view.duration_minutes,
        },
        "therapist": {"id": view.therapist_id, "display_name": view.therapist_name},
        "location": {
            "name": view.location_name,
            "address": view.location_address,
            "phone": view.location_phone,
        },
        "price": {"amount": view.price_minor, "currency": view.currency},
        "fee": {"amount": view.fee_minor, "currency": view.currency},
        "cancellation": {
            "free_until": _iso(view.terms_now.free_until, zone),
            "fee_if_cancelled_now": {"amount": view.terms_now.fee_minor, "currency": view.currency},
        },
        "can_change": view.can_change,
    }


async def create_hold(request: Request) -> Response:
    body = await _json_body(request)

    async def work() -> Answer:
        data = _parse(HoldIn, body)
        settings = settings_of(request)
        db = db_of(request)
        care = await care_for_booking(
            db,
            intake_token=data.intake_token,
            cancer_history=yes_no(data.cancer_history),
            email=data.email or "",
            start=data.start,
        )
        hold = await place_hold(
            db,
            SlotRequest(data.service_id, data.start, data.therapist_id, care.need),
            owner=owner_key("email", data.email) if data.email else None,
            address=client_ip(request),
            source=AppointmentSource.API,
            currency=settings.currency,
        )
        return 201, hold_json(hold, data.start.tzinfo)

    return _respond(*await _once(request, "POST /api/v1/holds", body, work))


async def create_booking(request: Request) -> Response:
    body = await _json_body(request)

    async def work() -> Answer:
        data = _parse(BookingIn, body)
        client = ClientDetails(data.client.name, data.client.email, data.client.phone)
        db = db_of(request)
        if data.hold_token is not None:
            if data.service_id or data.start or data.therapist_id:
                raise InvalidInput(
                    "Give either a hold_token, or a service_id and start: not both.",
                    field_errors={"hold_token": "Leave out service_id, therapist_id and start."},
                )
            booked = await book_from_hold(
                db,
                hold_token=data.hold_token,
                client=client,
                intake_token=data.intake_token,
                cancer_history=yes_no(data.cancer_history),
            )
        else:
            if data.service_id is None or data.start is None:
                required = "This field is required without a hold_token."
                missing = {
                    field: required
                    for field in ("service_id", "start")
                    if getattr(data, field) is None
                }
                raise InvalidInput(
                    "Give a hold_token, or a service_id and start.", field_errors=missing
                )
            booked = await book_slot(
                db,
                SlotRequest(data.service_id, data.start, data.therapist_id),
                client=client,
                source=AppointmentSource.API,
                currency=settings_of(request).currency,
                intake_token=data.intake_token,
                cancer_history=yes_no(data.cancer_history),
            )
        return 201, booked_json(booked, ZoneInfo(booked.timezone), settings_of(request).base_url)

    return _respond(*await _once(request, "POST /api/v1/bookings", body, work))


async def show_booking(request: Request) -> Response:
    view = await booking_for_token(db_of(request), request.path_params["token"])
    return JSONResponse(booking_json(view))


async def reschedule_booking(request: Request) -> Response:
    token = request.path_params["token"]
    body = await _json_body(request)

    async def work() -> Answer:
        data = _parse(RescheduleIn, body)
        view = await reschedule_by_token(
            db_of(request), token, start=data.start, therapist_id=data.therapist_id
        )
        return 200, booking_json(view)

    scope = f"POST /api/v1/bookings/reschedule:{_token_scope(token)}"
    return _respond(*await _once(request, scope, body, work))


async def cancel_booking(request: Request) -> Response:
    token = request.path_params["token"]
    body = await _json_body(request)

    async def work() -> Answer:
        data = _parse(CancelIn, body)
        view = await cancel_by_token(
            db_of(request), token, reason=data.reason, medically_excused=data.medically_excused
        )
        return 200, booking_json(view)

    scope = f"POST /api/v1/bookings/cancel:{_token_scope(token)}"
    return _respond(*await _once(request, scope, body, work))


def _token_scope(token: str) -> str:
    # Keys are scoped to the booking without storing its token.
    return hashlib.sha256(token.encode()).hexdigest()[:32]


async def _once(request: Request, scope: str, body: Any, work: Any) -> tuple[Answer, bool]:
    return await answer_once(
        db_of(request),
        scope=scope,
        key=request.headers.get("idempotency-key"),
        body=body,
        work=work,
    )
