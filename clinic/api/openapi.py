"""The OpenAPI 3.1 document for /api/v1/, built from the response models so that the
document and the responses cannot drift apart silently (the tests check both)."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clinic.api.bookings import BookingIn, CancelIn, HoldIn, RescheduleIn
from clinic.api.intakes import IntakeIn
from clinic.api.schemas import (
    Availability,
    BookedOut,
    BookingOut,
    HoldOut,
    IntakeOut,
    IntakeSigned,
    Problem,
    ServiceList,
    TherapistList,
)
from clinic.web.ids import MAX_ID

MODELS: tuple[type[BaseModel], ...] = (ServiceList, TherapistList, Availability, Problem)
RESPONSES: tuple[type[BaseModel], ...] = (HoldOut, BookedOut, BookingOut, IntakeSigned, IntakeOut)
REQUESTS: tuple[type[BaseModel], ...] = (HoldIn, BookingIn, RescheduleIn, CancelIn, IntakeIn)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _linked(response: dict[str, Any], links: dict[str, Any]) -> dict[str, Any]:
    return {**response, "links": links}


def _link(operation_id: str, description: str, **fields: Any) -> dict[str, Any]:
    """An OpenAPI link: what a client (and Schemathesis's stateful phase) may call next with
    values from this exchange. `parameters` fill path or query parameters; `requestBody`
    holds runtime expressions for the body's fields, the rest of the body is the caller's."""
    return {"operationId": operation_id, "description": description, **fields}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref(Problem)}},
    }


def _query(
    name: str, description: str, schema: dict[str, Any], *, required: bool
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


AVAILABILITY_PARAMETERS = [
    _query(
        "service_id",
        "A service id from /api/v1/services.",
        {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        required=True,
    ),
    _query(
        "from", "First local date, YYYY-MM-DD.", {"type": "string", "format": "date"}, required=True
    ),
    _query(
        "to",
        "Last local date, YYYY-MM-DD (inclusive).",
        {"type": "string", "format": "date"},
        required=True,
    ),
    _query(
        "therapist_id",
        "Only this therapist's times.",
        {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        required=False,
    ),
    _query(
        "intake_token",
        "From POST /api/v1/intakes: only the therapists and rooms the client's plan allows.",
        {"type": "string", "minLength": 10, "maxLength": 100},
        required=False,
    ),
    _query(
        "cancer_history",
        "Without an intake, the answer to 'Have you ever had cancer, or are you being "
        "treated for it now?': yes offers only oncology-trained therapists.",
        {"type": "string", "enum": ["yes", "no"]},
        required=False,
    ),
]


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(model)}}}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Replays of the same key get the stored answer for 24 hours; the same key with "
        "another body is 422; a key whose first request is still running is 409."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "The manage token returned when the booking was made.",
    "schema": {"type": "string", "minLength": 1},
}
WRITE_ERRORS = {
    "409": _problem("The time was just taken (with alternatives), or not possible now."),
    "413": _problem("The body is larger than 64 KiB."),
    "415": _problem("The body must be JSON."),
    "422": _problem("A field is missing or not right; see errors."),
    "429": _problem("Too many live holds from this address."),
}

COMMON_ERRORS = {
    "400": _problem("The request carried a browser session cookie; the API is cookieless."),
    "404": _problem("No such path."),
}


@functools.cache
def openapi_document() -> dict[str, Any]:
    _, definitions = models_json_schema(
        [(m, "serialization") for m in (*MODELS, *RESPONSES)]
        + [(m, "validation") for m in REQUESTS],
        ref_template="#/components/schemas/{model}",
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Clinic booking API",
            "version": "1",
            "description": (
                "Services, therapists and free appointment times. Times carry the "
                "location's offset; dates are local dates in the location's zone. The API "
                "is cookieless: requests that carry a browser session cookie are refused."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/v1/services": {
                "get": {
                    "operationId": "listServices",
                    "summary": "Services that can be booked online",
                    "responses": {"200": _json(ServiceList, "The services."), **COMMON_ERRORS},
                }
            },
            "/api/v1/therapists": {
                "get": {
                    "operationId": "listTherapists",
                    "summary": "Therapists with their oncology level today and their services",
                    "responses": {
                        "200": _json(TherapistList, "The therapists."),
                        **COMMON_ERRORS,
                    },
                }
            },
            **BOOKING_PATHS,
            "/api/v1/availability": {
                "get": {
                    "operationId": "getAvailability",
                    "summary": "Free times for a service",
                    "description": (
                        "Every free start time on the local dates from..to (inclusive, at "
                        "most 31 days, inside the booking window), with the therapist and "
                        "the room it would use. Without therapist_id, every suitable "
                        "therapist's times are listed."
                    ),
                    "parameters": AVAILABILITY_PARAMETERS,
                    "responses": {
                        "200": _linked(
                            _json(Availability, "Free times, in start order."), AVAILABILITY_LINKS
                        ),
                        "422": _problem("A parameter is missing or not right; see errors."),
                        **COMMON_ERRORS,
                    },
                }
            },
        },
        "components": {"schemas": definitions["$defs"]},
    }


FIRST_SLOT = {
    "service_id": "$request.query.service_id",
    "start": "$response.body#/slots/0/start",
    "therapist_id": "$response.body#/slots/0/therapist_id",
}
AVAILABILITY_LINKS = {
    "HoldFirstSlot": _link("createHold", "Hold the first free time.", requestBody=FIRST_SLOT),
    "BookFirstSlot": _link(
        "createBooking", "Book the first free time in one step.", requestBody=FIRST_SLOT
    ),
}
INTAKE_LINKS = {
    "GetIntake": _link(
        "getIntake", "Read the answers back.", parameters={"token": "$response.body#/intake_token"}
    ),
    "AvailabilityForIntake": _link(
        "getAvailability",
        "Free times with only the therapists and rooms the plan allows.",
        parameters={"intake_token": "$response.body#/intake_token"},
    ),
    "HoldForIntake": _link(
        "createHold",
        "Hold a time planned from this intake.",
        requestBody={"intake_token": "$response.body#/intake_token"},
    ),
    "BookForIntake": _link(
        "createBooking",
        "Book a time planned from this intake.",
        requestBody={"intake_token": "$response.body#/intake_token"},
    ),
}
HOLD_LINKS = {
    "BookHold": _link(
        "createBooking",
        "Book the held time.",
        requestBody={"hold_token": "$response.body#/hold_token"},
    ),
}


def _manage_links(token: str) -> dict[str, Any]:
    """What the client can do next with a booking's manage token."""
    return {
        "GetBooking": _link("getBooking", "Read the booking.", parameters={"token": token}),
        "RescheduleBooking": _link(
            "rescheduleBooking", "Move the booking.", parameters={"token": token}
        ),
        "CancelBooking": _link("cancelBooking", "Cancel the booking.", parameters={"token": token}),
    }


BOOKED_LINKS = _manage_links("$response.body#/manage_token")
MANAGED_LINKS = _manage_links("$request.path.token")

INTAKE_TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "The intake token returned when the intake was signed.",
    "schema": {"type": "string", "minLength": 1},
}

BOOKING_PATHS: dict[str, Any] = {
    "/api/v1/intake-form": {
        "get": {
            "operationId": "getIntakeForm",
            "summary": "The current intake form definition (questions by id, as data)",
            "responses": {
                "200": {
                    "description": "The form definition with its content hash.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **COMMON_ERRORS,
            },
        }
    },
    "/api/v1/intakes": {
        "post": {
            "operationId": "signIntake",
            "summary": "Sign a health intake; get its token and the plan in plain words",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": _body(IntakeIn),
            "responses": {
                "201": _linked(_json(IntakeSigned, "Signed."), INTAKE_LINKS),
                **WRITE_ERRORS,
                **COMMON_ERRORS,
            },
        }
    },
    "/api/v1/intakes/{token}": {
        "get": {
            "operationId": "getIntake",
            "summary": "The client's own answers and plan",
            "parameters": [INTAKE_TOKEN],
            "responses": {"200": _json(IntakeOut, "The intake."), **COMMON_ERRORS},
        }
    },
    "/api/v1/holds": {
        "post": {
            "operationId": "createHold",
            "summary": "Hold a free time while the client gives their details",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": _body(HoldIn),
            "responses": {
                "201": _linked(_json(HoldOut, "Held."), HOLD_LINKS),
                **WRITE_ERRORS,
                **COMMON_ERRORS,
            },
        }
    },
    "/api/v1/bookings": {
        "post": {
            "operationId": "createBooking",
            "summary": "Book from a hold, or a time in one step",
            "description": "Without therapist_id, anyone suitable is booked.",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": _body(BookingIn),
            "responses": {
                "201": _linked(_json(BookedOut, "Booked."), BOOKED_LINKS),
                **WRITE_ERRORS,
                **COMMON_ERRORS,
            },
        }
    },
    "/api/v1/bookings/{token}": {
        "get": {
            "operationId": "getBooking",
            "summary": "A booking, with what cancelling now would cost",
            "parameters": [TOKEN],
            "responses": {
                "200": _linked(_json(BookingOut, "The booking."), MANAGED_LINKS),
                **COMMON_ERRORS,
            },
        }
    },
    "/api/v1/bookings/{token}/reschedule": {
        "post": {
            "operationId": "rescheduleBooking",
            "summary": "Move a booking to another free time, atomically",
            "parameters": [TOKEN, IDEMPOTENCY_KEY],
            "requestBody": _body(RescheduleIn),
            "responses": {
                "200": _linked(_json(BookingOut, "Moved."), MANAGED_LINKS),
                **WRITE_ERRORS,
                **COMMON_ERRORS,
            },
        }
    },
    "/api/v1/bookings/{token}/cancel": {
        "post": {
            "operationId": "cancelBooking",
            "summary": "Cancel a booking; the policy's fee applies inside the window",
            "parameters": [TOKEN, IDEMPOTENCY_KEY],
            "requestBody": _body(CancelIn),
            "responses": {
                "200": _linked(_json(BookingOut, "Cancelled."), MANAGED_LINKS),
                **WRITE_ERRORS,
                **COMMON_ERRORS,
            },
        }
    },
}


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi_document())
