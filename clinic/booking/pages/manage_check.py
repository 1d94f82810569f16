"""The pre-visit check of a manage link (/manage/{token}/check): "anything new since your
last visit?" as yes/no questions, then what happens next in plain words. The answers go
only to the clinic (clinic/clearance/previsit.py); the page never gives medical advice
beyond asking the client to contact their doctor."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from clinic.booking.bookings import appointment_for_token
from clinic.booking.pages.forms import page_url, render, see_other
from clinic.booking.pages.manage import OPEN_STATUSES, booking_in_path, manage_context, show_url
from clinic.clearance.previsit import CHANGES, TODAY, PrevisitOutcome, answer_check
from clinic.errors import Conflict, InvalidInput
from clinic.web.context import db_of
from clinic.web.flash import flash


def _page(
    request: Request,
    token: str,
    context: dict[str, object],
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return render(
        request,
        "manage/check.html",
        {
            **context,
            "changes": CHANGES,
            "today": TODAY,
            "values": values,
            "errors": errors,
            "action": page_url(request, "manage:check_submit", token=token),
            "back_url": show_url(request, token),
        },
        status,
    )


async def manage_check_form(request: Request) -> Response:
    token, view = await booking_in_path(request)
    if view.status not in OPEN_STATUSES:
        return see_other(show_url(request, token))
    return _page(request, token, manage_context(request, token, view), {}, {})


async def manage_check_submit(request: Request) -> Response:
    token, view = await booking_in_path(request)
    if view.status not in OPEN_STATUSES:
        return see_other(show_url(request, token))
    form = await request.form()
    values = {name: str(form.get(name, "")) for name, _ in CHANGES + TODAY}
    try:
        async with db_of(request).transaction() as session:
            appointment = await appointment_for_token(session, token)
            result = await answer_check(session, appointment, values)
    except InvalidInput as invalid:
        context = manage_context(request, token, view)
        return _page(request, token, context, values, invalid.field_errors, status=422)
    except Conflict as refused:
        flash(request, refused.message, "error")
        return see_other(show_url(request, token))
    nothing_new = result.outcome is PrevisitOutcome.NOTHING_NEW
    flash(request, result.message, "success" if nothing_new else "warning")
    return see_other(show_url(request, token))
