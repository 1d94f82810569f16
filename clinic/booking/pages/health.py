"""The booking flow's health step (/book/health...): the gate question alone (or, for a
browser holding a signed intake, "anything changed?"), the intake form drawn from its
definition and signed, then what the clinic will adapt, in plain words. Health answers
travel only in form posts and HttpOnly cookies, never in a URL or a page title; the pages
never give medical advice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from clinic.booking.pages import care
from clinic.booking.pages.choices import Clinic, find_service, load_clinic
from clinic.booking.pages.choose import service_url, therapist_url
from clinic.booking.pages.cookies import (
    GATE_COOKIE,
    INTAKE_COOKIE,
    INTAKE_COOKIE_SECONDS,
    clear_cookie,
    intake_token,
    keep_gate,
    read_gate,
    set_cookie,
)
from clinic.booking.pages.forms import form_value, page_url, render, see_other
from clinic.booking.pages.intake_form import error_names, form_view, read_post
from clinic.booking.pages.wording import day_text
from clinic.clock import now_utc
from clinic.errors import InvalidInput
from clinic.intake import forms
from clinic.intake.models import Intake
from clinic.intake.service import (
    INTAKE_VALID_DAYS,
    Signature,
    check_submission,
    clinic_screening,
    intake_by_token,
    plan_for,
    sign_intake,
)
from clinic.intake.summary import for_client
from clinic.scheduling.models import Service
from clinic.scheduling.service import public_services
from clinic.web.context import db_of, settings_of

CHANGED = "changed"
GATE = forms.GATE_QUESTION
CHOOSE_CHANGED = "Select yes if anything about your health has changed"
CHOOSE_GATE = "Select yes if you have ever had cancer or are being treated for it now"
YES_NO = (("yes", "Yes"), ("no", "No"))


async def _clinic_and_service(request: Request, raw: str | None) -> tuple[Clinic, Service] | None:
    async with db_of(request).reading() as session:
        clinic = await load_clinic(session, settings_of(request))
        service = find_service(await public_services(session), raw)
    return (clinic, service) if service is not None else None


async def browser_intake(request: Request) -> Intake | None:
    """The intake this browser signed, while it is recent enough to plan from."""
    token = intake_token(request)
    if token is None:
        return None
    async with db_of(request).reading() as session:
        intake = await intake_by_token(session, token)
    if intake is None or intake.signed_at <= now_utc() - timedelta(days=INTAKE_VALID_DAYS):
        return None
    return intake


def _question_page(
    request: Request,
    clinic: Clinic,
    service: Service,
    *,
    question: str,
    heading: str,
    hint: str | None,
    chosen: str,
    errors: dict[str, str],
    back_url: str,
    status: int = 200,
) -> Response:
    return render(
        request,
        "book/health.html",
        {
            "clinic": clinic,
            "page_heading": heading,
            "question": question,
            "hint": hint,
            "options": YES_NO,
            "chosen": chosen,
            "service": service,
            "errors": errors,
            "back_url": back_url,
        },
        status,
    )


def _changed_page(
    request: Request,
    clinic: Clinic,
    service: Service,
    intake: Intake,
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    signed_on = day_text(intake.signed_at.astimezone(clinic.zone).date())
    return _question_page(
        request,
        clinic,
        service,
        question=CHANGED,
        heading=f"Anything changed since you filled in your health form on {signed_on}?",
        hint="For example a new diagnosis, treatment, operation or medicine.",
        chosen="",
        errors=errors,
        back_url=service_url(request, service.id),
        status=status,
    )


def _gate_page(
    request: Request,
    clinic: Clinic,
    service: Service,
    chosen: bool | None,
    errors: dict[str, str],
    *,
    again: bool,
    status: int = 200,
) -> Response:
    gate = forms.current().question(GATE)
    return _question_page(
        request,
        clinic,
        service,
        question=GATE,
        heading=gate.label,
        hint=gate.help,
        chosen="" if chosen is None else ("yes" if chosen else "no"),
        errors=errors,
        back_url=care.health_url(request, service.id)
        if again
        else service_url(request, service.id),
        status=status,
    )


async def health_question(request: Request) -> Response:
    query = request.query_params
    found = await _clinic_and_service(request, query.get("service"))
    if found is None:
        return see_other(service_url(request))
    clinic, service = found
    intake = await browser_intake(request)
    again = query.get("again") == "1"
    if intake is not None and not again:
        return _changed_page(request, clinic, service, intake, {})
    chosen = read_gate(request)
    if chosen is None and intake is not None:
        chosen = intake.cancer_history
    return _gate_page(request, clinic, service, chosen, {}, again=intake is not None)


async def health_question_submit(request: Request) -> Response:
    form = await request.form()
    found = await _clinic_and_service(request, form_value(form, "service"))
    if found is None:
        return see_other(service_url(request))
    clinic, service = found
    settings = settings_of(request)
    if form_value(form, "question") == CHANGED:
        intake = await browser_intake(request)
        if intake is None:
            return see_other(care.health_url(request, service.id))
        answer = form_value(form, CHANGED)
        if answer == "no":
            response = see_other(therapist_url(request, service.id))
            clear_cookie(response, settings, GATE_COOKIE)
            return response
        if answer == "yes":
            return see_other(care.health_url(request, service.id, again=True))
        return _changed_page(request, clinic, service, intake, {CHANGED: CHOOSE_CHANGED}, 422)
    answer = form_value(form, GATE)
    if answer not in ("yes", "no"):
        again = await browser_intake(request) is not None
        return _gate_page(
            request, clinic, service, None, {GATE: CHOOSE_GATE}, again=again, status=422
        )
    response = see_other(care.health_form_url(request, service.id))
    keep_gate(response, settings, answer == "yes")
    return response


async def _gate_and_intake(request: Request) -> tuple[bool | None, Intake | None]:
    """The gate answer the form follows (this browser's latest, else its signed intake's)
    and the signed intake whose answers fill the form in."""
    intake = await browser_intake(request)
    gate = read_gate(request)
    if gate is None and intake is not None:
        gate = intake.cancer_history
    return gate, intake


def _form_page(
    request: Request,
    clinic: Clinic,
    service: Service,
    gate: bool,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    signed_name: str = "",
    agreed: bool = False,
    status: int = 200,
) -> Response:
    definition = forms.current()
    return render(
        request,
        "book/health_form.html",
        {
            "clinic": clinic,
            "service": service,
            "gate_label": definition.question(GATE).label,
            "gate_answer": "Yes" if gate else "No",
            "gate_url": care.health_url(request, service.id, again=True),
            "intake": form_view(
                definition,
                values,
                errors,
                fixed={GATE: gate},
                signed_name=signed_name,
                agreed=agreed,
            ),
            "action": page_url(request, "book:health_form_submit"),
            "hidden": {"service": service.id},
            "errors": errors,
            "back_url": care.health_url(request, service.id, again=True),
        },
        status,
    )


async def health_form(request: Request) -> Response:
    found = await _clinic_and_service(request, request.query_params.get("service"))
    if found is None:
        return see_other(service_url(request))
    clinic, service = found
    gate, intake = await _gate_and_intake(request)
    if gate is None:
        return see_other(care.health_url(request, service.id))
    # A change signs a new intake: the old answers only fill the form in.
    values = dict(intake.answers) if intake is not None else {}
    return _form_page(request, clinic, service, gate, values, {})


async def health_form_submit(request: Request) -> Response:
    form = await request.form()
    found = await _clinic_and_service(request, form_value(form, "service"))
    if found is None:
        return see_other(service_url(request))
    clinic, service = found
    gate, _intake = await _gate_and_intake(request)
    if gate is None:
        return see_other(care.health_url(request, service.id))
    posted = read_post(forms.current(), form, {GATE: gate})
    signature = Signature(posted.signed_name, posted.agreed)
    try:
        definition, cleaned = check_submission(posted.raw, signature)
    except InvalidInput as invalid:
        return _form_page(
            request,
            clinic,
            service,
            gate,
            posted.raw,
            error_names(invalid.field_errors),
            signed_name=posted.signed_name,
            agreed=posted.agreed,
            status=422,
        )
    _, token = await sign_intake(db_of(request), definition, cleaned, signature)
    settings = settings_of(request)
    response = see_other(care.plan_url(request, service.id))
    set_cookie(response, settings, INTAKE_COOKIE, token, INTAKE_COOKIE_SECONDS)
    clear_cookie(response, settings, GATE_COOKIE)
    return response


def plan_context(intake: Intake, plan_summary: dict[str, Any]) -> dict[str, Any]:
    """The plan in plain words and the client's own answers, for a plan page."""
    definition = forms.by_hash(intake.form_hash)
    return {"plan": plan_summary, "answers": forms.readable(definition, intake.answers)}


async def health_plan(request: Request) -> Response:
    found = await _clinic_and_service(request, request.query_params.get("service"))
    if found is None:
        return see_other(service_url(request))
    clinic, service = found
    intake = await browser_intake(request)
    if intake is None:
        return see_other(care.health_url(request, service.id))
    async with db_of(request).reading() as session:
        screening = await clinic_screening(session)
    summary = for_client(plan_for(intake, now=now_utc(), clinic=screening, visit_start=None))
    return render(
        request,
        "book/health_plan.html",
        {
            "clinic": clinic,
            **plan_context(intake, summary),
            "phone": clinic.phone,
            "change_url": care.health_form_url(request, service.id),
            "continue_url": therapist_url(request, service.id) if summary["can_book"] else None,
            "back_url": care.health_form_url(request, service.id),
        },
    )
