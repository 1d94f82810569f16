"""The health form of a manage link (/manage/{token}/intake), for a booking made without
one: the whole form (the gate question first, its follow-up section labelled), signed as a
new intake for the booking, then the plan for the visit. The plan page is shown only to the
browser that signed the form (its token in an HttpOnly cookie for this link's pages)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from clinic.booking.bookings import BookingView, intake_for_booking
from clinic.booking.pages.cookies import (
    INTAKE_COOKIE,
    INTAKE_COOKIE_SECONDS,
    intake_token,
    set_cookie,
)
from clinic.booking.pages.forms import page_url, render, see_other
from clinic.booking.pages.health import plan_context
from clinic.booking.pages.intake_form import error_names, form_view, read_post
from clinic.booking.pages.manage import (
    OPEN_STATUSES,
    booking_in_path,
    intake_link,
    manage_context,
    show_url,
)
from clinic.errors import Conflict, InvalidInput
from clinic.intake import forms
from clinic.intake.models import IntakeState
from clinic.intake.service import Signature, intake_by_token
from clinic.intake.summary import for_client, plan_from_json
from clinic.web.context import db_of, settings_of
from clinic.web.flash import flash


def intake_url(request: Request, token: str) -> str:
    return page_url(request, "manage:intake", token=token)


def _form_page(
    request: Request,
    token: str,
    view: BookingView,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    signed_name: str = "",
    agreed: bool = False,
    status: int = 200,
) -> Response:
    return render(
        request,
        "manage/intake.html",
        {
            **manage_context(request, token, view),
            "intake": form_view(
                forms.current(), values, errors, signed_name=signed_name, agreed=agreed
            ),
            "action": page_url(request, "manage:intake_submit", token=token),
            "hidden": {},
            "errors": errors,
            "back_url": show_url(request, token),
        },
        status,
    )


async def manage_intake_form(request: Request) -> Response:
    token, view = await booking_in_path(request)
    if view.status not in OPEN_STATUSES:
        return see_other(show_url(request, token))
    # A fresh form: earlier answers are shown only through the link that created them.
    return _form_page(request, token, view, {}, {})


async def manage_intake_submit(request: Request) -> Response:
    token, view = await booking_in_path(request)
    if view.status not in OPEN_STATUSES:
        return see_other(show_url(request, token))
    form = await request.form()
    posted = read_post(forms.current(), form)
    signature = Signature(posted.signed_name, posted.agreed)
    try:
        received = await intake_for_booking(db_of(request), token, posted.raw, signature)
    except InvalidInput as invalid:
        return _form_page(
            request,
            token,
            view,
            posted.raw,
            error_names(invalid.field_errors),
            signed_name=posted.signed_name,
            agreed=posted.agreed,
            status=422,
        )
    except Conflict as refused:
        flash(request, refused.message, "error")
        return see_other(show_url(request, token))
    response = see_other(page_url(request, "manage:intake_plan", token=token))
    set_cookie(
        response,
        settings_of(request),
        INTAKE_COOKIE,
        received.intake_token,
        INTAKE_COOKIE_SECONDS,
        path=intake_url(request, token),
    )
    return response


async def manage_intake_plan(request: Request) -> Response:
    """The plan for the visit from the form this browser just signed; anyone else goes to
    the appointment."""
    token, view = await booking_in_path(request)
    cookie = intake_token(request)
    link = await intake_link(db_of(request), view.appointment_id)
    async with db_of(request).reading() as session:
        intake = await intake_by_token(session, cookie) if cookie else None
    if intake is None or link is None or link.intake_id != intake.id or link.plan is None:
        return see_other(show_url(request, token))
    summary = for_client(plan_from_json(link.plan))
    return render(
        request,
        "manage/intake_plan.html",
        {
            **manage_context(request, token, view),
            **plan_context(intake, summary),
            "review": link.state is IntakeState.REVIEW,
            "back_url": show_url(request, token),
        },
    )
