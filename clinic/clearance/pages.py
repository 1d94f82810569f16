"""The clearance pages: the desk's view of one visit's clearance (statuses, dates, the
physician's contact and the chase log, never anything clinical), the physician letter the
desk prints and sends, and the clinician's page that records the outcome.

Every read of a clearance by staff is audited (`clearance.read`, one entry per clearance
shown); opening the letter is a disclosure (`clearance.letter`). Reads run inside a
transaction so the audit entry commits with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic import audit
from clinic.auth.models import Role
from clinic.auth.web import requires, signed_in_staff
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.clearance.covering import default_valid_until
from clinic.clearance.models import (
    CLEARING,
    DECIDED,
    ChaseMethod,
    Clearance,
    ClearanceChase,
    ClearanceStatus,
)
from clinic.clearance.service import (
    Actor,
    Outcome,
    log_chase,
    mark_received,
    may_decide,
    record_outcome,
    request_clearance,
)
from clinic.clients.models import Client
from clinic.clock import now_utc, today_in
from clinic.errors import ClinicError, InvalidInput, NotFound, PermissionDenied
from clinic.intake.models import AppointmentIntake, Intake
from clinic.intake.plan import CarePlan
from clinic.intake.service import answers_of, clinic_screening
from clinic.intake.summary import (
    POSITION_WORDS,
    PRESSURE_WORDS,
    RULE_WORDS,
    adaptations,
    plan_from_json,
    region_words,
)
from clinic.scheduling.models import Location, Service
from clinic.staff.models import Therapist
from clinic.web.caching import no_store
from clinic.web.context import db_of, settings_of, templates_of
from clinic.web.flash import flash
from clinic.web.ids import parse_id

OPEN = (ClearanceStatus.REQUESTED, ClearanceStatus.RECEIVED)
# A clearance on file this close to its last day is shown as expiring.
EXPIRING_DAYS = 14

CHASE_LABELS = {
    ChaseMethod.PHONE: "Phone",
    ChaseMethod.FAX: "Fax",
    ChaseMethod.EMAIL: "Email",
    ChaseMethod.PORTAL: "Patient portal",
    ChaseMethod.LETTER: "Letter",
    ChaseMethod.CLIENT: "Asked the client to chase",
}
OUTCOME_LABELS = {
    ClearanceStatus.CLEARED: "Cleared",
    ClearanceStatus.CLEARED_WITH_RESTRICTIONS: "Cleared with restrictions",
    ClearanceStatus.NOT_CLEARED: "Not cleared (not advisable now)",
}
# The domain file's checklist (section (d)) for the physician to mark on the letter.
LETTER_CHECKLIST = (
    "Sites of surgery, radiation, IV lines or ports, drains, fragile skin, edema or bone "
    "involvement to avoid or treat gently",
    "Lymph node involvement, and the plan for lymphedema risk",
    "Low platelets or easy bruising",
    "Treatment side effects to allow for (fatigue, neuropathy, nausea)",
    "Clot risk, and whether pressure on the legs is safe",
)


NO_SUCH_CLEARANCE = "There is no such clearance."


def actor_of(request: Request) -> Actor:
    staff = signed_in_staff(request)
    return Actor(staff.user_id, frozenset(staff.roles))


# What the pages read


@dataclass(frozen=True)
class Visit:
    appointment: Appointment
    client: Client
    therapist_name: str
    service_name: str
    deadline: datetime | None  # only while the visit waits for a clearance


@dataclass(frozen=True)
class DeskClearance:
    """One clearance as the desk sees it: status words, dates, contact, chases."""

    clearance: Clearance
    status_words: str
    chases: list[ClearanceChase]

    @property
    def is_open(self) -> bool:
        return self.clearance.status in OPEN


def clearance_deadline(starts_at: datetime, deadline_hours: int) -> datetime:
    """When a visit still waiting for a clearance is released (clinic/clearance/jobs.py)."""
    return starts_at - timedelta(hours=deadline_hours)


async def _visit(session: AsyncSession, appointment_id: int) -> Visit:
    row = (
        await session.execute(
            select(Appointment, Client, Therapist.display_name, Service.name)
            .join(Client, Client.id == Appointment.client_id)
            .join(Therapist, Therapist.id == Appointment.therapist_id)
            .join(Service, Service.id == Appointment.service_id)
            .where(Appointment.id == appointment_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("There is no such appointment.")
    appointment, client, therapist_name, service_name = row
    deadline = None
    if appointment.status is AppointmentStatus.PENDING_CLEARANCE:
        rules = (await clinic_screening(session)).rules
        deadline = clearance_deadline(appointment.starts_at, rules.clearance_deadline_hours)
    return Visit(appointment, client, therapist_name, service_name, deadline)


async def _chases(session: AsyncSession, ids: list[int]) -> dict[int, list[ClearanceChase]]:
    found: dict[int, list[ClearanceChase]] = {i: [] for i in ids}
    if ids:
        for chase in await session.scalars(
            select(ClearanceChase)
            .where(ClearanceChase.clearance_id.in_(ids))
            .order_by(ClearanceChase.at, ClearanceChase.id)
        ):
            found[chase.clearance_id].append(chase)
    return found


def _day(instant: datetime | None, zone: ZoneInfo) -> str:
    if instant is None:
        return ""
    local = instant.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B %Y}"


def _date_words(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def status_words(clearance: Clearance, today: date, zone: ZoneInfo) -> str:
    """The status in words the desk may see: no outcome details, no restrictions."""
    status = clearance.status
    if status is ClearanceStatus.REQUESTED:
        return f"Requested on {_day(clearance.requested_at, zone)}"
    if status is ClearanceStatus.RECEIVED:
        return (
            f"Received on {_day(clearance.received_at, zone)}; waiting for a clinician to record it"
        )
    if status in CLEARING and clearance.valid_until is not None:
        until = _date_words(clearance.valid_until)
        if clearance.valid_until < today:
            return f"Expired on {until}"
        if clearance.valid_until <= today + timedelta(days=EXPIRING_DAYS):
            return f"Expiring: on file until {until}"
        return f"On file until {until}"
    if status is ClearanceStatus.NOT_CLEARED:
        return "Not cleared: ask the clinical lead before rebooking"
    if status is ClearanceStatus.EXPIRED:
        return "Expired: a new one is needed"
    if status is ClearanceStatus.VOIDED:
        return "No longer valid: a new one is needed"
    return "On file"


def overall_words(visit: Visit, shown: list[DeskClearance], today: date) -> str:
    """One line for the visit: needed / requested / received / on file / expiring."""
    waiting = visit.appointment.status is AppointmentStatus.PENDING_CLEARANCE
    latest_open = next((c for c in shown if c.is_open), None)
    if latest_open is not None:
        return f"Clearance {latest_open.status_words[0].lower()}{latest_open.status_words[1:]}"
    if waiting:
        return "Clearance needed"
    on_file = next(
        (
            c
            for c in shown
            if c.clearance.status in CLEARING
            and c.clearance.voided_at is None
            and c.clearance.valid_until is not None
            and c.clearance.valid_until >= today
        ),
        None,
    )
    if on_file is not None:
        return f"Clearance {on_file.status_words[0].lower()}{on_file.status_words[1:]}"
    return "No clearance on file"


async def desk_view(
    session: AsyncSession, appointment_id: int, *, user_id: int
) -> tuple[Visit, list[DeskClearance], ZoneInfo, date]:
    """The visit and its client's clearances, newest first; each one read is audited."""
    visit = await _visit(session, appointment_id)
    zone = (await clinic_screening(session)).zone
    today = now_utc().astimezone(zone).date()
    clearances = list(
        await session.scalars(
            select(Clearance)
            .where(Clearance.client_id == visit.client.id)
            .order_by(Clearance.requested_at.desc(), Clearance.id.desc())
        )
    )
    chases = await _chases(session, [c.id for c in clearances])
    for clearance in clearances:
        audit.record(
            session,
            "clearance.read",
            actor_user_id=user_id,
            subject_type="clearance",
            subject_id=clearance.id,
            details={"appointment_id": appointment_id, "view": "desk"},
        )
    shown = [DeskClearance(c, status_words(c, today, zone), chases[c.id]) for c in clearances]
    return visit, shown, zone, today


# The desk's page and its forms


def _desk_context(
    visit: Visit, shown: list[DeskClearance], zone: ZoneInfo, today: date
) -> dict[str, Any]:
    return {
        "visit": visit,
        "clearances": shown,
        "open": next((c for c in shown if c.is_open), None),
        "overall": overall_words(visit, shown, today),
        "zone": zone,
        "chase_labels": CHASE_LABELS,
        "today": today,
    }


async def _render_desk(
    request: Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    form: str = "",
    status: int = 200,
) -> Response:
    appointment_id = int(request.path_params["appointment_id"])
    staff = signed_in_staff(request)
    async with db_of(request).transaction() as session:
        visit, shown, zone, today = await desk_view(session, appointment_id, user_id=staff.user_id)
    response = templates_of(request).TemplateResponse(
        request,
        "desk/clearance.html",
        {
            **_desk_context(visit, shown, zone, today),
            "errors": errors or {},
            "values": values or {},
            "form": form,
        },
        status_code=status,
    )
    return no_store(response)


# Where a desk form goes back to: this page, or the visit's panel when posted from there
# (`back=panel`). A fixed choice by name, never an address taken from the form.
BACK_TO = {"clearance": "desk:clearance", "panel": "desk:visit"}


def _back(
    request: Request, message: str, category: Any = "success", *, back: str = "clearance"
) -> Response:
    flash(request, message, category)
    url = request.url_for(
        BACK_TO.get(back, "desk:clearance"), appointment_id=request.path_params["appointment_id"]
    ).path
    return RedirectResponse(url, 303)


async def _open_clearance_id(request: Request, form: FormData) -> int:
    """The clearance a desk form names, if it belongs to this visit's client."""
    raw = str(form.get("clearance_id", ""))
    appointment_id = int(request.path_params["appointment_id"])
    async with db_of(request).reading() as session:
        client_id = await session.scalar(
            select(Appointment.client_id).where(Appointment.id == appointment_id)
        )
        if client_id is None:
            raise NotFound("There is no such appointment.")
        clearance_id = parse_id(raw)
        clearance = await session.get(Clearance, clearance_id) if clearance_id else None
    if clearance is None or clearance.client_id != client_id:
        raise NotFound("There is no such clearance for this appointment.")
    return clearance.id


@requires(Role.FRONTDESK)
async def desk_page(request: Request) -> Response:
    return await _render_desk(request)


@requires(Role.FRONTDESK)
async def desk_request(request: Request) -> Response:
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("physician_name", "practice", "contact")}
    try:
        clearance = await request_clearance(
            db_of(request),
            int(request.path_params["appointment_id"]),
            physician_name=values["physician_name"],
            practice=values["practice"],
            contact=values["contact"],
            actor=actor_of(request),
        )
    except InvalidInput as invalid:
        return await _render_desk(
            request, errors=invalid.field_errors, values=values, form="request", status=422
        )
    return _back(
        request,
        f"Clearance requested from {clearance.physician_name}. "
        "Print the physician letter and send it.",
    )


def _parse_date(raw: str, field: str, label: str, errors: dict[str, str]) -> date | None:
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        errors[field] = f"Enter the {label} as a real date, for example 2026-12-01"
        return None


@requires(Role.FRONTDESK)
async def desk_chase(request: Request) -> Response:
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("method", "outcome", "next_on", "back")}
    clearance_id = await _open_clearance_id(request, form)
    errors: dict[str, str] = {}
    method = None
    if values["method"] in {m.value for m in ChaseMethod}:
        method = ChaseMethod(values["method"])
    else:
        errors["method"] = "Choose how you chased the physician"
    next_on = _parse_date(values["next_on"], "next_on", "next chase date", errors)
    if method is not None and not errors:
        try:
            await log_chase(
                db_of(request),
                clearance_id,
                method=method,
                outcome=values["outcome"],
                next_on=next_on,
                actor=actor_of(request),
                today=today_in(settings_of(request).zone),
            )
        except InvalidInput as invalid:
            errors = invalid.field_errors
        except ClinicError as refused:
            return _back(request, refused.message, "error", back=str(form.get("back", "")))
        else:
            return _back(request, "Chase logged.", back=str(form.get("back", "")))
    if not values["outcome"].strip():
        errors.setdefault("outcome", "Enter the outcome")
    return await _render_desk(request, errors=errors, values=values, form="chase", status=422)


@requires(Role.FRONTDESK)
async def desk_received(request: Request) -> Response:
    form = await request.form()
    clearance_id = await _open_clearance_id(request, form)
    try:
        await mark_received(db_of(request), clearance_id, actor=actor_of(request))
    except ClinicError as refused:
        return _back(request, refused.message, "error", back=str(form.get("back", "")))
    return _back(
        request,
        "Marked received. A clinician will record the outcome.",
        back=str(form.get("back", "")),
    )


# The physician letter


@dataclass(frozen=True)
class Letter:
    visit: Visit
    clinic_name: str
    clinic_address: str
    clinic_phone: str
    plan: CarePlan | None
    clearance: Clearance | None  # the open request, for the physician's details


def pressure_words(pressure: int | None) -> str:
    if pressure is None:
        return "No limit set by our screening (we adapt to the client on the day)"
    return PRESSURE_WORDS[pressure].capitalize()


def site_lines(plan: CarePlan) -> list[str]:
    return [
        f"{region_words(s.region).capitalize()}: {RULE_WORDS[s.rule]} this area"
        for s in plan.site_rules
    ]


def why_we_ask(plan: CarePlan) -> list[str]:
    """The plan's reasons for a clearance, without the screening table's row numbers."""
    return [reason.split(": ", 1)[-1] for reason in plan.clearance_reasons]


@requires(Role.FRONTDESK)
async def letter(request: Request) -> Response:
    """The printable physician letter. The desk opens it because the desk sends it: it
    holds the visit's care plan, so opening it is a disclosure and audited as one."""
    appointment_id = int(request.path_params["appointment_id"])
    staff = signed_in_staff(request)
    async with db_of(request).transaction() as session:
        visit = await _visit(session, appointment_id)
        zone = (await clinic_screening(session)).zone
        link = await session.get(AppointmentIntake, appointment_id)
        plan = plan_from_json(link.plan) if link is not None and link.plan else None
        location = await session.scalar(
            select(Location).where(Location.active.is_(True)).order_by(Location.id).limit(1)
        )
        clearance = await session.scalar(
            select(Clearance)
            .where(Clearance.client_id == visit.client.id, Clearance.status.in_(OPEN))
            .order_by(Clearance.requested_at.desc(), Clearance.id.desc())
            .limit(1)
        )
        audit.record(
            session,
            "clearance.letter",
            actor_user_id=staff.user_id,
            subject_type="clearance" if clearance is not None else "appointment",
            subject_id=clearance.id if clearance is not None else appointment_id,
            details={"appointment_id": appointment_id},
        )
    sheet = Letter(
        visit=visit,
        clinic_name=location.name if location is not None else "",
        clinic_address=location.address if location is not None else "",
        clinic_phone=location.phone if location is not None else "",
        plan=plan,
        clearance=clearance,
    )
    response = templates_of(request).TemplateResponse(
        request,
        "desk/clearance_letter.html",
        {
            "letter": sheet,
            "zone": zone,
            "pressure_words": pressure_words,
            "adaptations": adaptations,
            "site_lines": site_lines,
            "why_we_ask": why_we_ask,
            "position_words": POSITION_WORDS,
            "checklist": LETTER_CHECKLIST,
            "printed_at": now_utc(),
        },
    )
    return no_store(response)


# The clinician's page


@dataclass(frozen=True)
class ClinicalView:
    clearance: Clearance
    client_name: str
    plan: CarePlan | None
    appointment_id: int | None
    chases: list[ClearanceChase]
    default_valid_until: date | None
    zone: ZoneInfo


async def clinical_view(session: AsyncSession, clearance_id: int, actor: Actor) -> ClinicalView:
    """The clearance with the plan it answers; only for those who may record its outcome
    (a clinical lead, or the client's treating, qualified therapist). Audited."""
    clearance = await session.get(Clearance, clearance_id)
    # Someone else's client's clearance is "not found" too: no hint that it exists.
    if clearance is None or not await may_decide(session, actor, clearance):
        raise NotFound(NO_SUCH_CLEARANCE)
    screening = await clinic_screening(session)
    today = now_utc().astimezone(screening.zone).date()
    client = await session.get(Client, clearance.client_id)
    link = None
    intake = None
    if clearance.intake_id is not None:
        link = await session.scalar(
            select(AppointmentIntake)
            .join(Appointment, Appointment.id == AppointmentIntake.appointment_id)
            .where(AppointmentIntake.intake_id == clearance.intake_id)
            .order_by(Appointment.starts_at)
            .limit(1)
        )
        intake = await session.get(Intake, clearance.intake_id)
    default = None
    if intake is not None:
        default = default_valid_until(answers_of(intake), today, screening.rules)
    chases = (await _chases(session, [clearance.id]))[clearance.id]
    audit.record(
        session,
        "clearance.read",
        actor_user_id=actor.user_id,
        subject_type="clearance",
        subject_id=clearance.id,
        details={"view": "clinical"},
    )
    return ClinicalView(
        clearance=clearance,
        client_name=client.name if client is not None else "",
        plan=plan_from_json(link.plan) if link is not None and link.plan else None,
        appointment_id=link.appointment_id if link is not None else None,
        chases=chases,
        default_valid_until=default,
        zone=screening.zone,
    )


async def _render_clinical(
    request: Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    actor = actor_of(request)
    async with db_of(request).transaction() as session:
        view = await clinical_view(session, int(request.path_params["clearance_id"]), actor)
    response = templates_of(request).TemplateResponse(
        request,
        "clinical/clearance.html",
        {
            "view": view,
            "zone": view.zone,
            "errors": errors or {},
            "values": values or {},
            "outcome_labels": OUTCOME_LABELS,
            "chase_labels": CHASE_LABELS,
            "adaptations": adaptations,
            "pressure_words": PRESSURE_WORDS,
            "is_open": view.clearance.status in OPEN,
        },
        status_code=status,
    )
    return no_store(response)


@requires(Role.CLINICAL_LEAD, Role.THERAPIST)
async def clinical_page(request: Request) -> Response:
    return await _render_clinical(request)


def outcome_from(form: FormData) -> tuple[Outcome | None, dict[str, str], dict[str, str]]:
    values = {
        k: str(form.get(k, "")) for k in ("status", "max_pressure", "restrictions", "valid_until")
    }
    errors: dict[str, str] = {}
    status = None
    if values["status"] in {s.value for s in DECIDED}:
        status = ClearanceStatus(values["status"])
    else:
        errors["status"] = "Choose cleared, cleared with restrictions, or not cleared"
    pressure = None
    if values["max_pressure"]:
        if values["max_pressure"] in {"1", "2", "3", "4", "5"}:
            pressure = int(values["max_pressure"])
        else:
            errors["max_pressure"] = "Choose a pressure from 1 to 5 on Walton's scale"
    valid_until = _parse_date(
        values["valid_until"], "valid_until", "date it is valid until", errors
    )
    if status is None or errors:
        return None, values, errors
    outcome = Outcome(
        status,
        max_pressure=pressure,
        restrictions=values["restrictions"],
        valid_until=valid_until,
    )
    return outcome, values, errors


@requires(Role.CLINICAL_LEAD, Role.THERAPIST)
async def clinical_record(request: Request) -> Response:
    clearance_id = int(request.path_params["clearance_id"])
    form = await request.form()
    outcome, values, errors = outcome_from(form)
    if outcome is not None:
        try:
            # record_outcome refuses anyone but a clinical lead or the treating, qualified
            # therapist; for them the clearance is not found, as on the page.
            await record_outcome(db_of(request), clearance_id, outcome, actor=actor_of(request))
        except PermissionDenied:
            raise NotFound(NO_SUCH_CLEARANCE) from None
        except InvalidInput as invalid:
            errors = invalid.field_errors
        else:
            flash(request, f"Outcome recorded: {OUTCOME_LABELS[outcome.status]}.", "success")
            url = request.url_for("clinical:clearance", clearance_id=clearance_id).path
            return RedirectResponse(url, 303)
    return await _render_clinical(request, errors=errors, values=values, status=422)


async def clearances_to_record(session: AsyncSession) -> list[tuple[Clearance, str]]:
    """Requested and received clearances, oldest first, with the client's name (for the
    clinical review page)."""
    rows = await session.execute(
        select(Clearance, Client.name)
        .join(Client, Client.id == Clearance.client_id)
        .where(Clearance.status.in_(OPEN))
        .order_by(Clearance.requested_at, Clearance.id)
    )
    return [(clearance, name) for clearance, name in rows]
