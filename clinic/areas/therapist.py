"""A therapist's own pages: only their own appointments. The day sheet and its print show
care plans (audited reads, never cached); the week shows times and names only; the
calendar page issues and revokes the subscription link whose feed is public (the token is
the credential)."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.access.break_glass import ReasonProblem, is_own_visit, open_grant
from clinic.auth.models import Role
from clinic.auth.web import requires, signed_in_staff
from clinic.booking.service import short_name, therapist_for_user
from clinic.clock import now_utc, today_in
from clinic.errors import ClinicError, NotFound
from clinic.intake.care_sheet import NeedsBreakGlass, care_sheet
from clinic.intake.summary import adaptations
from clinic.therapist import completion, feed
from clinic.therapist.day import FIRST_DAY, LAST_DAY, day_sheet, week_of, week_start
from clinic.web.caching import no_store
from clinic.web.context import client_ip, db_of, settings_of, templates_of
from clinic.web.flash import flash

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class NotADate(ClinicError):
    status_code = 400
    title = "Not a date"


def parse_day(raw: str) -> date | None:
    """A YYYY-MM-DD date this app can show, or None."""
    if not _DAY.fullmatch(raw):
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


def _path_day(request: Request) -> date:
    day = parse_day(request.path_params["day"])
    if day is None:
        raise NotFound("There is no such day. Days in this address look like 2026-11-27.")
    return day


async def _day_page(request: Request, day: date, *, template: str, view: str) -> Response:
    staff = signed_in_staff(request)
    zone = settings_of(request).zone
    now = now_utc()
    async with db_of(request).transaction() as session:
        sheet = await day_sheet(
            session,
            user_id=staff.user_id,
            day=day,
            zone=zone,
            now=now,
            window=settings_of(request).care_window,
            view=view,
        )
    response = templates_of(request).TemplateResponse(
        request,
        template,
        {
            "sheet": sheet,
            "zone": zone,
            "now": now,
            "is_today": day == now.astimezone(zone).date(),
        },
    )
    return no_store(response)


@requires(Role.THERAPIST)
async def today(request: Request) -> Response:
    day = today_in(settings_of(request).zone)
    return await _day_page(request, day, template="therapist/day.html", view="day_sheet")


@requires(Role.THERAPIST)
async def day(request: Request) -> Response:
    return await _day_page(
        request, _path_day(request), template="therapist/day.html", view="day_sheet"
    )


@requires(Role.THERAPIST)
async def print_day(request: Request) -> Response:
    return await _day_page(
        request, _path_day(request), template="therapist/day_print.html", view="day_print"
    )


@requires(Role.THERAPIST)
async def week(request: Request) -> Response:
    staff = signed_in_staff(request)
    zone = settings_of(request).zone
    raw = request.query_params.get("start")
    if raw is None:
        start = today_in(zone)
    else:
        parsed = parse_day(raw)
        if parsed is None:
            raise NotADate("Choose a week by a date like 2026-11-27.")
        start = parsed
    async with db_of(request).reading() as session:
        shown = await week_of(session, user_id=staff.user_id, start=week_start(start), zone=zone)
    return templates_of(request).TemplateResponse(
        request,
        "therapist/week.html",
        {"week": shown, "zone": zone, "today": today_in(zone)},
    )


@requires(Role.THERAPIST)
async def appointment(request: Request) -> Response:
    """One of the therapist's own visits with its care plan and the client's answers."""
    staff = signed_in_staff(request)
    settings = settings_of(request)
    zone = settings.zone
    try:
        async with db_of(request).transaction() as session:
            therapist = await therapist_for_user(session, staff.user_id)
            if therapist is None:
                raise NotFound("Your account is not linked to a therapist profile.")
            sheet = await care_sheet(
                session,
                request.path_params["appointment_id"],
                therapist_id=therapist.id,
                user_id=staff.user_id,
                now=now_utc(),
                window=settings.care_window,
            )
    except NeedsBreakGlass as refused:
        return _break_glass_page(request, refused, values={}, errors={})
    response = templates_of(request).TemplateResponse(
        request,
        "therapist/appointment.html",
        {"sheet": sheet, "zone": zone, "adaptations": adaptations},
    )
    return no_store(response)


def _break_glass_page(
    request: Request,
    refused: NeedsBreakGlass,
    *,
    values: dict[str, str],
    errors: dict[str, str],
) -> Response:
    """Why the record is closed, and the form that opens it with a reason (403; 422 when
    the reason given was refused)."""
    response = templates_of(request).TemplateResponse(
        request,
        "therapist/break_glass.html",
        {
            "refused": refused,
            "minutes": settings_of(request).break_glass_minutes,
            "values": values,
            "errors": errors,
        },
        status_code=422 if errors else 403,
    )
    return no_store(response)


@requires(Role.THERAPIST)
async def break_glass(request: Request) -> Response:
    """Open a visit's health details outside the therapist's access, with a reason."""
    staff = signed_in_staff(request)
    settings = settings_of(request)
    appointment_id = request.path_params["appointment_id"]
    form = await request.form()
    reason = str(form.get("reason", ""))
    try:
        await open_grant(
            db_of(request),
            user_id=staff.user_id,
            appointment_id=appointment_id,
            reason=reason,
            now=now_utc(),
            minutes=settings.break_glass_minutes,
            ip_address=client_ip(request),
        )
    except ReasonProblem as problem:
        async with db_of(request).reading() as session:
            own = await is_own_visit(session, user_id=staff.user_id, appointment_id=appointment_id)
        refused = NeedsBreakGlass(appointment_id, own=own, window=settings.care_window)
        return _break_glass_page(
            request, refused, values={"reason": reason}, errors={"reason": str(problem)}
        )
    flash(
        request,
        f"Opened for {settings.break_glass_minutes} minutes. Your reason and every read are "
        "recorded for the clinic's review.",
        "info",
    )
    target = request.url_for("therapist:appointment", appointment_id=appointment_id).path
    return RedirectResponse(target, 303)


def _back_to_day(request: Request, done: completion.Completed) -> Response:
    day = done.starts_at.astimezone(settings_of(request).zone).date()
    target = request.url_for("therapist:day", day=day.isoformat()).path
    return RedirectResponse(f"{target}#visit-{done.appointment_id}", 303)


@requires(Role.THERAPIST)
async def complete(request: Request) -> Response:
    staff = signed_in_staff(request)
    done = await completion.complete_session(
        db_of(request), request.path_params["appointment_id"], user_id=staff.user_id
    )
    flash(
        request,
        f"{short_name(done.client_name)}: session marked as completed. "
        "Undo it from the appointment below if that was a mistake.",
        "success",
    )
    return _back_to_day(request, done)


@requires(Role.THERAPIST)
async def uncomplete(request: Request) -> Response:
    staff = signed_in_staff(request)
    done = await completion.undo_completion(
        db_of(request), request.path_params["appointment_id"], user_id=staff.user_id
    )
    flash(request, f"{short_name(done.client_name)}: back to checked in.", "info")
    return _back_to_day(request, done)


# The calendar subscription


def feed_urls(request: Request, token: str) -> tuple[str, str]:
    """The https address of the feed and the same as webcal://, which phones open in
    their calendar app."""
    base = settings_of(request).base_url.rstrip("/")
    path = request.app.url_path_for("calendar:feed", token=token)
    https = f"{base}{path}"
    return https, "webcal://" + https.split("://", 1)[1]


async def _calendar_page(request: Request, *, new_token: str | None = None) -> Response:
    staff = signed_in_staff(request)
    async with db_of(request).reading() as session:
        status = await feed.feed_status(session, user_id=staff.user_id)
    urls = feed_urls(request, new_token) if new_token is not None else None
    response = templates_of(request).TemplateResponse(
        request,
        "therapist/calendar.html",
        {
            "status": status,
            "urls": urls,
            "zone": settings_of(request).zone,
            "days_back": feed.DAYS_BACK,
            "days_ahead": feed.DAYS_AHEAD,
        },
    )
    # The new link is shown once: never kept by a browser or a proxy.
    return no_store(response)


@requires(Role.THERAPIST)
async def calendar(request: Request) -> Response:
    return await _calendar_page(request)


@requires(Role.THERAPIST)
async def calendar_create(request: Request) -> Response:
    staff = signed_in_staff(request)
    token = await feed.issue_feed(db_of(request), user_id=staff.user_id)
    return await _calendar_page(request, new_token=token)


@requires(Role.THERAPIST)
async def calendar_revoke(request: Request) -> Response:
    staff = signed_in_staff(request)
    if await feed.revoke_feed(db_of(request), user_id=staff.user_id):
        flash(
            request,
            "Calendar link turned off. Calendars subscribed to it will stop updating.",
            "success",
        )
    else:
        flash(request, "There was no calendar link to turn off.", "info")
    return RedirectResponse(request.url_for("therapist:calendar").path, 303)


async def calendar_feed(request: Request) -> Response:
    """The feed itself: no sign-in, the token in the address is the credential."""
    settings = settings_of(request)
    found = await feed.feed_for_token(
        db_of(request), request.path_params["token"], clinic_zone=settings.zone
    )
    base = settings.base_url.rstrip("/")

    def appointment_url(appointment_id: int) -> str:
        path = request.app.url_path_for("therapist:appointment", appointment_id=appointment_id)
        return f"{base}{path}"

    body = feed.render_calendar(
        found,
        domain=urlsplit(base).hostname or "localhost",
        appointment_url=appointment_url,
        today=today_in(found.zone),
    )
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        # Private: one person's schedule. Short: phones poll, and changes should show.
        "cache-control": "private, max-age=300",
        "etag": etag,
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={**headers, "content-disposition": 'inline; filename="appointments.ics"'},
    )
