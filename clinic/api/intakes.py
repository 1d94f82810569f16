"""Intake endpoints of the public API: the current form, signing an intake, and reading it
back with its token. The token is the client's only key to their answers: it never reaches
a log line (clinic.logging redacts /api/v1/intakes/ paths and *token* fields)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clinic.api.bookings import Strict, _json_body, _once, _parse, _respond
from clinic.api.idempotency import Answer
from clinic.clock import now_utc
from clinic.errors import NotFound
from clinic.intake import forms
from clinic.intake.models import Intake
from clinic.intake.service import (
    ClinicScreening,
    Signature,
    check_submission,
    clinic_screening,
    intake_by_token,
    plan_for,
    sign_intake,
)
from clinic.intake.summary import for_client
from clinic.web.context import db_of


class SignatureIn(Strict):
    name: str = Field(max_length=200, description="The client's full name, typed.")
    agreed: bool = Field(description="The client confirms the consent text of the form.")


class IntakeIn(Strict):
    answers: dict[str, Any] = Field(description="Answers by question id (GET /api/v1/intake-form).")
    signature: SignatureIn


def form_json(definition: forms.FormDefinition) -> dict[str, Any]:
    return {"version": definition.version, "hash": definition.hash}


async def intake_form(request: Request) -> Response:
    """The current form definition, as data, for clients that render it themselves."""
    definition = forms.current()
    return JSONResponse({**definition.raw, "hash": definition.hash})


async def create_intake(request: Request) -> Response:
    body = await _json_body(request)

    async def work() -> Answer:
        data = _parse(IntakeIn, body)
        signature = Signature(data.signature.name, data.signature.agreed)
        definition, cleaned = check_submission(data.answers, signature)
        db = db_of(request)
        intake, token = await sign_intake(db, definition, cleaned, signature)
        async with db.reading() as session:
            clinic = await clinic_screening(session)
        plan = plan_for(intake, now=now_utc(), clinic=clinic, visit_start=None)
        return 201, {"intake_token": token, "form": form_json(definition), "plan": for_client(plan)}

    return _respond(*await _once(request, "POST /api/v1/intakes", body, work))


async def show_intake(request: Request) -> Response:
    """The client's own answers and plan, through the token that created them."""
    async with db_of(request).reading() as session:
        intake = await intake_by_token(session, request.path_params["token"])
        if intake is None:
            raise NotFound("There is no health form at this address.")
        clinic = await clinic_screening(session)
    return JSONResponse(intake_json(intake, clinic))


def intake_json(intake: Intake, clinic: ClinicScreening) -> dict[str, Any]:
    definition = forms.by_hash(intake.form_hash)
    zone = clinic.zone
    plan = plan_for(intake, now=now_utc(), clinic=clinic, visit_start=None)
    return {
        "form": form_json(definition),
        "signed_by": intake.signed_name,
        "signed_at": intake.signed_at.astimezone(zone).isoformat(),
        "answers": intake.answers,
        "readable": [
            {
                "title": section.title,
                "items": [{"label": item.label, "text": item.text} for item in section.items],
            }
            for section in forms.readable(definition, intake.answers)
        ],
        "plan": for_client(plan),
    }
