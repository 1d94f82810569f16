"""The clinical lead's page for one visit in review (/clinical/reviews/{appointment_id}):
the plan and why the visit is in review, and three decisions (confirm as booked, adjust
the plan, ask for a clearance), each a POST that redirects back to the review list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.auth.models import Role
from clinic.auth.web import requires, signed_in_staff
from clinic.booking.models import Appointment
from clinic.booking.service import short_name
from clinic.clearance.review import (
    InReview,
    adjust_plan,
    ask_for_clearance,
    confirm_as_booked,
    in_review,
)
from clinic.clients.models import Client
from clinic.errors import Conflict, InvalidInput
from clinic.intake.summary import PRESSURE_WORDS, adaptations
from clinic.scheduling.models import Service
from clinic.staff.models import Therapist
from clinic.web.caching import no_store
from clinic.web.context import db_of, settings_of, templates_of
from clinic.web.flash import flash

Decision = Callable[[AsyncSession, InReview, int], Awaitable[str]]


async def _names(session: AsyncSession, review: InReview) -> dict[str, str]:
    appointment = review.appointment
    row = (
        await session.execute(
            select(Client.name, Therapist.display_name, Service.name)
            .select_from(Appointment)
            .join(Client, Client.id == Appointment.client_id)
            .join(Therapist, Therapist.id == Appointment.therapist_id)
            .join(Service, Service.id == Appointment.service_id)
            .where(Appointment.id == appointment.id)
        )
    ).one()
    return {"client": short_name(row[0]), "therapist": row[1], "service": row[2]}


async def _render(
    request: Request, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    staff = signed_in_staff(request)
    async with db_of(request).transaction() as session:
        review = await in_review(
            session, request.path_params["appointment_id"], user_id=staff.user_id
        )
        names = await _names(session, review)
    return no_store(
        templates_of(request).TemplateResponse(
            request,
            "clinical/review_visit.html",
            {
                "review": review,
                "names": names,
                "lines": adaptations(review.plan),
                "pressure_words": PRESSURE_WORDS,
                "errors": errors or {},
                "zone": settings_of(request).zone,
            },
            status_code=status,
        )
    )


@requires(Role.CLINICAL_LEAD)
async def review_page(request: Request) -> Response:
    return await _render(request)


async def _decide(request: Request, decision: Decision) -> Response:
    staff = signed_in_staff(request)
    try:
        async with db_of(request).transaction() as session:
            review = await in_review(
                session, request.path_params["appointment_id"], user_id=staff.user_id
            )
            message = await decision(session, review, staff.user_id)
    except InvalidInput as invalid:
        return await _render(request, invalid.field_errors, status=422)
    except Conflict as refused:
        flash(request, refused.message, "error")
        url = request.url_for("clinical:review_visit", **request.path_params).path
        return RedirectResponse(url, 303)
    flash(request, message, "success")
    return RedirectResponse(request.url_for("clinical:review").path, 303)


@requires(Role.CLINICAL_LEAD)
async def confirm(request: Request) -> Response:
    async def decision(session: AsyncSession, review: InReview, user_id: int) -> str:
        await confirm_as_booked(session, review, user_id=user_id)
        return "The visit goes ahead as booked."

    return await _decide(request, decision)


@requires(Role.CLINICAL_LEAD)
async def adjust(request: Request) -> Response:
    form = await request.form()
    raw_pressure = str(form.get("max_pressure", ""))
    note = str(form.get("note", ""))

    async def decision(session: AsyncSession, review: InReview, user_id: int) -> str:
        pressure = int(raw_pressure) if raw_pressure in {"1", "2", "3", "4", "5"} else None
        if raw_pressure and pressure is None:
            raise InvalidInput(
                "Check the plan changes.",
                field_errors={"max_pressure": "Choose a pressure from 1 to 5 on Walton's scale"},
            )
        await adjust_plan(session, review, max_pressure=pressure, note=note, user_id=user_id)
        return "The plan is adjusted; the therapist sees it on their sheet."

    return await _decide(request, decision)


@requires(Role.CLINICAL_LEAD)
async def clearance(request: Request) -> Response:
    async def decision(session: AsyncSession, review: InReview, user_id: int) -> str:
        await ask_for_clearance(session, review, user_id=user_id)
        return "The visit now waits for a clearance; the desk requests and chases it."

    return await _decide(request, decision)
