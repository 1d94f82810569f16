"""The audit trail for admins (`/admin/audit`): entries filtered by who, what, which record
and when, newest first, 50 a page; the same filter exported as CSV or JSON Lines; and a
check of the hash chain on demand. Queries and the allow-list of what an admin may see are
in clinic/admin/audit_review.py.

The filter is a GET form, so a filtered view can be bookmarked; a bad value comes back as
400 with the message beside its field and every value kept. The export and the check are
POSTs with the CSRF token: each writes an audit entry, which a GET (prefetched, or
followed from another site) must not.

The chain is not verified on every view: that recomputes every seal (about 45 ms per
thousand entries measured on SQLite, so some 20 s for a six-year trail of half a million).
The page shows the newest check made from it, which is itself an audit entry (who, when,
what was found), and a button runs one now.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from clinic.admin import audit_review as review
from clinic.areas.admin.common import actor, currency, moment, render
from clinic.audit import ChainReport
from clinic.auth.models import Role
from clinic.auth.web import requires, signed_in_staff
from clinic.errors import InvalidInput
from clinic.web.caching import no_store
from clinic.web.context import db_of, settings_of

# Records an admin may open from a row: admin pages, and the desk's visit panel (which
# shows no clinical detail) for those who also work the desk. Health forms, clearances,
# payments and clients have no link: their pages are clinical or not the admin's.
_ADMIN_LINKS = {
    "user": ("admin:user", "user_id"),
    "therapist": ("admin:therapist", "therapist_id"),
    "service": ("admin:service", "service_id"),
    "room": ("admin:room", "room_id"),
}
_SETTINGS_SECTIONS = {
    "policy": "booking",
    "receipt_setting": "payments",
    "screening_setting": "screening",
}


def _subject_link(request: Request, row: review.EntryRow) -> str | None:
    staff = signed_in_staff(request)
    if row.subject_type in _ADMIN_LINKS and row.subject_id.isdigit():
        name, param = _ADMIN_LINKS[row.subject_type]
        return request.url_for(name, **{param: int(row.subject_id)}).path
    if row.subject_type in _SETTINGS_SECTIONS:
        section = _SETTINGS_SECTIONS[row.subject_type]
        return request.url_for("admin:policy_section", section=section).path
    if row.subject_type == "closure":
        return request.url_for("admin:closures").path
    if (
        row.subject_type == "appointment"
        and row.subject_id.isdigit()
        and staff.has_any(Role.FRONTDESK)
    ):
        return request.url_for("desk:visit", appointment_id=int(row.subject_id)).path
    return None


def _ip_and_request_id(request: Request) -> tuple[str, str]:
    ip = request.client.host if request.client else ""
    return ip, str(getattr(request.state, "request_id", "") or "")


async def _page(
    request: Request,
    values: Mapping[str, str],
    *,
    before_raw: str = "",
    extra_errors: Mapping[str, str] | None = None,
    chain_report: ChainReport | None = None,
) -> Response:
    """The page for the filter `values`: its entries, or its errors (400)."""
    zone = settings_of(request).zone
    now, _ = moment(request)
    errors: dict[str, str] = dict(extra_errors or {})
    audit_filter: review.AuditFilter | None = None
    page: review.EntriesPage | None = None
    async with db_of(request).reading() as session:
        staff = await review.staff_choices(session)
        try:
            audit_filter = review.read_filter(values, zone=zone, staff=staff)
        except InvalidInput as invalid:
            errors = {**invalid.field_errors, **errors}
        try:
            before = review.read_cursor(before_raw)
        except ValueError:
            before = None
            errors.setdefault(
                "newest", "This page link is not valid: start from the newest entries"
            )
        if audit_filter is not None and "newest" not in errors:
            page = await review.entries_page(session, audit_filter, before=before)
        last_check = await review.last_chain_check(session)
    rows = page.rows if page else []
    query = audit_filter.query if audit_filter else {}
    return render(
        request,
        "admin/audit.html",
        {
            "filter_ok": audit_filter is not None,
            "values": {k: str(values.get(k, "") or "").strip() for k in review.FILTER_FIELDS},
            "errors": errors,
            "staff_choices": staff,
            "actor_labels": review.ACTOR_LABELS,
            "action_groups": review.action_groups(),
            "subject_types": review.SUBJECT_TYPES,
            "rows": rows,
            "links": {row.id: _subject_link(request, row) for row in rows},
            "times": {row.id: review.local_time(row.occurred_at, zone) for row in rows},
            "details": {row.id: review.detail_items(row, currency(request), zone) for row in rows},
            "older": (
                f"?{urlencode({**query, 'before': page.older})}" if page and page.older else None
            ),
            "newest": f"?{urlencode(query)}" if query else "",
            "paged": before_raw.strip() != "",
            "query": query,
            "zone": zone,
            "now": now,
            "last_check": last_check,
            "chain_report": chain_report,
            "check_time": review.local_time(last_check.at, zone) if last_check else "",
        },
        status=400 if errors else 200,
    )


@requires(Role.ADMIN)
async def audit_trail(request: Request) -> Response:
    params = request.query_params
    return await _page(request, params, before_raw=params.get("before", ""))


@requires(Role.ADMIN)
async def audit_export(request: Request) -> Response:
    """The filtered trail as a download, streamed; the export is itself audited."""
    form = await request.form()
    values = {k: str(form.get(k, "") or "").strip() for k in review.FILTER_FIELDS}
    file_format = str(form.get("format", "csv") or "csv")
    if file_format not in review.EXPORT_FORMATS:
        return await _page(request, values, extra_errors={"format": "Choose CSV or JSON Lines"})
    zone = settings_of(request).zone
    async with db_of(request).reading() as session:
        staff = await review.staff_choices(session)
    try:
        audit_filter = review.read_filter(values, zone=zone, staff=staff)
    except InvalidInput:
        return await _page(request, values)
    ip, request_id = _ip_and_request_id(request)
    _, today = moment(request)
    export = await review.start_export(
        db_of(request),
        audit_filter,
        file_format=file_format,
        zone=zone,
        today=today,
        actor_user_id=actor(request),
        ip=ip,
        request_id=request_id,
    )
    return no_store(
        StreamingResponse(
            export.chunks,
            media_type=f"{export.media_type}; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{export.filename}"'},
        )
    )


@requires(Role.ADMIN)
async def audit_verify(request: Request) -> Response:
    """Walk the whole chain now, record what was found, and show the page (with the filter
    the admin was looking at) led by the result. No redirect: the result is already in the
    trail, so a reload only checks again."""
    form = await request.form()
    values = {k: str(form.get(k, "") or "").strip() for k in review.FILTER_FIELDS}
    ip, request_id = _ip_and_request_id(request)
    report = await review.check_chain(
        db_of(request), actor_user_id=actor(request), ip=ip, request_id=request_id
    )
    return await _page(request, values, chain_report=report)
