"""Reading the audit trail for the admin's review page and its export.

An admin sees configuration and audit, never clinical fields (reliability.md section 4),
so what an entry shows is an allow-list: `ACTIONS` names every action the code writes,
in words, with the `details` keys that are safe to show for it. Anything else (an action
not in the list, a key not allowed for its action) is withheld. Intake answers and
clearance content never reach the trail in the first place (clinic/audit.py); this list
also withholds the health-related facts some entries do carry: a clearance's outcome, a
physician's name, a pre-visit check's answer, "medically excused".

A page is one statement: newest first by entry id, the primary key, so keyset
pagination ("entries before id N") has no gaps or repeats while new entries arrive. The
time filter is on `occurred_at`, the instant the entry was recorded. Exports walk the
same query in batches, each in its own short read, so a long trail streams in flat
memory and never holds a connection while the client downloads.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.admin.forms import EARLIEST_YEAR, LATEST_YEAR, Checker
from clinic.audit import AuditEntry, ChainReport
from clinic.auth.models import User
from clinic.db import Database
from clinic.payments.states import PaymentState, RefundState
from clinic.web.formatting import money

PAGE_SIZE = 50
EXPORT_BATCH = 500
EXPORTED = "audit.exported"
CHAIN_CHECKED = "audit.chain_checked"
FILTER_FIELDS = ("actor", "action", "subject_type", "subject_id", "from", "to")
EXPORT_FORMATS = ("csv", "jsonl")


@dataclass(frozen=True)
class Action:
    """How an action reads, and which of its details keys an admin may see."""

    words: str
    shown: tuple[str, ...] = ()
    # details["reason"] is shown: a reason a member of staff typed or a code we word.
    reason: bool = False


def _payment_moves() -> dict[str, Action]:
    moved = ("from", "kind", "amount_minor", "appointment_id", "code", "from_event")
    words = {
        PaymentState.PENDING: "Payment started",
        PaymentState.SCHEDULED: "Payment scheduled",
        PaymentState.AWAITING_CLIENT: "Payment waiting for the client",
        PaymentState.SUCCEEDED: "Payment received",
        PaymentState.FAILED: "Payment failed",
        PaymentState.EXPIRED: "Payment page expired",
        PaymentState.CANCELLED: "Payment cancelled",
        PaymentState.REFUNDED: "Payment refunded in full",
    }
    return {f"payment.{state.value}": Action(words[state], moved, reason=True) for state in words}


def _refund_moves() -> dict[str, Action]:
    words = {
        RefundState.PENDING: "Refund pending",
        RefundState.SUCCEEDED: "Refund made",
        RefundState.FAILED: "Refund failed",
    }
    return {
        f"refund.{state.value}": Action(words[state], ("refund_id", "amount_minor"))
        for state in words
    }


# Every action the code records. tests/admin/test_audit_review.py fails when a literal
# action in clinic/ is missing here, so each new action gets a decision on what admins see.
# Reads of health records carry reason=True: a break-glass read gives its reason there.
ACTIONS: dict[str, Action] = {
    # Staff accounts and signing in
    "user.created": Action("Staff account created", ("roles",)),
    "user.roles_changed": Action("Roles changed", ("before", "after")),
    "user.enabled": Action("Account enabled"),
    "user.disabled": Action("Account disabled"),
    "user.sign_in_unlocked": Action("Sign-in unlocked"),
    "user.password_accepted": Action("Password accepted, code asked for", ("second_factor",)),
    "user.signed_in": Action("Signed in", ("second_factor",)),
    "user.sign_in_failed": Action("Sign-in failed", reason=True),
    "user.signed_out": Action("Signed out"),
    "user.reauthentication_failed": Action("Password check failed", ("for",)),
    "user.password_changed": Action("Password changed", ("other_sessions_ended",)),
    "user.email_changed": Action("Email address changed", ("before", "after")),
    "user.second_factor_set_up_started": Action("Second factor set-up started"),
    "user.second_factor_enabled": Action("Second factor turned on", ("replaced", "recovery_codes")),
    "user.second_factor_failed": Action("Second-factor code refused", ("during",), True),
    "user.second_factor_disabled": Action("Second factor turned off"),
    "user.second_factor_reset": Action("Second factor reset", ("had_second_factor",)),
    "user.recovery_codes_replaced": Action("Recovery codes replaced"),
    "user.recovery_code_used": Action("Recovery code used", ("left",)),
    "security.second_factor_roles_changed": Action(
        "Roles needing a second factor changed", ("before", "after")
    ),
    # Therapists
    "therapist.created": Action("Therapist added", ("location_ids", "user_id")),
    "therapist.details_changed": Action("Therapist details changed", ("fields",)),
    "therapist.deactivated": Action("Therapist deactivated", ("upcoming_visits",)),
    "therapist.reactivated": Action("Therapist reactivated"),
    "therapist.services_changed": Action("Therapist's services changed", ("added", "removed")),
    "therapist.hours_changed": Action("Working hours changed", ("before", "after")),
    "therapist.time_off_added": Action("Time off added", ("time_off_id", "visits_inside")),
    "therapist.time_off_removed": Action("Time off removed", ("time_off_id",)),
    "therapist.credential_added": Action("Credential added", ("credential_id", "kind", "verified")),
    "therapist.credential_verified": Action("Credential verified", ("credential_id", "kind")),
    "therapist.moved": Action("Therapist moved in booking order", ("direction", "place")),
    "calendar_feed.created": Action("Calendar link made", ("therapist_id", "replaced_feed_id")),
    "calendar_feed.revoked": Action("Calendar link revoked", ("therapist_id",)),
    # Services, rooms, closures and settings
    "service.created": Action("Service added"),
    "service.changed": Action("Service changed", ("fields",)),
    "service.moved": Action("Service moved in booking order", ("direction", "place")),
    "service.payment_rule_changed": Action("Service payment rule changed", ("before", "after")),
    "room.created": Action("Room added"),
    "room.changed": Action("Room changed", ("fields",)),
    "closure.added": Action("Day closed", ("location_id", "on_date", "visits_that_day")),
    "closure.removed": Action("Day opened again", ("location_id", "on_date")),
    "policy.changed": Action("Booking policy changed", ("before", "after")),
    "receipt_setting.changed": Action("Receipt setting changed", ("before", "after")),
    "screening.changed": Action("Screening setting changed", ("before", "after")),
    # Visits
    "appointment.held": Action("Time held", ("source", "therapist_chosen")),
    "appointment.reserved_for_payment": Action("Time kept for payment", ("until",)),
    "appointment.booked": Action("Visit booked", ("source", "status", "therapist_chosen")),
    "appointment.expired": Action("Held time released", reason=True),
    "appointment.rules_overridden": Action("Booking rules overridden", ("overrides",), True),
    "appointment.rescheduled": Action("Visit moved", ("from", "to", "therapist_changed")),
    # Not "medically_excused": whether a visit was excused for health reasons is health
    # information.
    "appointment.cancelled": Action("Visit cancelled", ("by", "late", "fee_minor")),
    "appointment.no_show": Action("Marked as no-show", ("fee_minor", "waived_minor"), True),
    "appointment.no_show_undone": Action("No-show undone", ("fee_minor_was",)),
    "appointment.checked_in": Action("Checked in"),
    "appointment.check_in_undone": Action("Check-in undone"),
    "appointment.completed": Action("Visit completed", ("by",)),
    "appointment.completion_undone": Action("Completion undone", ("by",)),
    "appointment.links_revoked": Action("Client's links revoked", ("links",)),
    "appointment.confirmed": Action("Visit confirmed", ("clearance_id",)),
    "appointment.awaiting_clearance": Action("Visit waiting for a clearance"),
    "appointment.intake_linked": Action("Health form linked to the visit", ("intake_id",)),
    "appointment.intake_review": Action("Health form sent for review", ("intake_id",)),
    "client.added": Action("Client added", ("by",)),
    "client.reminders_changed": Action("Reminder emails switched", ("reminders", "via")),
    # Health records: who read or handled what, never what it says.
    "intake.signed": Action("Health form signed", ("form",)),
    # Read by break-glass: by "break_glass", with the grant and its reason.
    "intake.read": Action("Health form read", ("appointment_id", "by", "view", "grant_id"), True),
    "break_glass.opened": Action("Break-glass access opened", ("grant_id", "expires_at"), True),
    "review.confirmed": Action("Review: plan confirmed"),
    "review.plan_adjusted": Action("Review: plan adjusted"),
    "review.clearance_asked": Action("Review: clearance asked for"),
    "previsit.answered": Action("Pre-visit check answered"),
    "clearance.requested": Action("Clearance requested", ("appointment_id",)),
    "clearance.chased": Action("Clearance chased", ("method",)),
    "clearance.received": Action("Clearance received"),
    "clearance.decided": Action("Clearance outcome recorded"),
    "clearance.voided": Action("Clearance voided"),
    "clearance.read": Action("Clearance read", ("appointment_id", "view"), True),
    "clearance.letter": Action("Clearance letter opened", ("appointment_id",)),
    "clearance.document_added": Action("Clearance document added", ("document_id",)),
    "clearance.document_read": Action("Clearance document read", ("document_id", "by"), True),
    # Payments
    "payment.created": Action(
        "Payment recorded",
        ("state", "kind", "method", "amount_minor", "tip_minor", "appointment_id"),
    ),
    **_payment_moves(),
    "payment.disputed": Action("Payment disputed", ("appointment_id",)),
    "payment.card_saved": Action("Card saved", ("brand", "last4")),
    # Not the reason: one of them is "medically excused".
    "refund.requested": Action("Refund requested", ("amount_minor",)),
    **_refund_moves(),
    # Backups (clinic/backup.py): operations on the whole database, not on anyone's record.
    "database.backed_up": Action(
        "Database backed up", ("kind", "path", "bytes", "sha256", "revision")
    ),
    "database.restored": Action(
        "Database restored", ("kind", "path", "sha256", "revision", "replaced_chain_head")
    ),
    # This page
    EXPORTED: Action("Audit trail exported", ("filter", "format")),
    CHAIN_CHECKED: Action("Audit chain checked", ("ok", "sealed", "unsealed", "problem")),
}

# The action select's groups, in order: a slug (the filter value `all:<slug>` picks every
# action of the group), its label, and the families (the part before the dot) it holds.
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "accounts": ("Staff accounts and signing in", ("user",)),
    "therapists": ("Therapists", ("therapist", "calendar_feed")),
    "offering": ("Services, rooms and closures", ("service", "room", "closure")),
    "settings": ("Settings", ("policy", "receipt_setting", "screening")),
    "visits": ("Visits and clients", ("appointment", "client")),
    "health": ("Health records", ("intake", "break_glass", "review", "previsit", "clearance")),
    "payments": ("Payments", ("payment", "refund")),
    "security": ("Security and backups", ("security", "database")),
    "audit": ("Audit trail", ("audit",)),
}
GROUP_PREFIX = "all:"

SUBJECT_TYPES: dict[str, str] = {
    "appointment": "Visit",
    "client": "Client",
    "user": "Staff account",
    "therapist": "Therapist",
    "service": "Service",
    "room": "Room",
    "closure": "Closure",
    "policy": "Booking policy",
    "receipt_setting": "Receipt setting",
    "screening_setting": "Screening setting",
    "payment": "Payment",
    "intake": "Health form",
    "clearance": "Clearance",
    "calendar_feed": "Calendar link",
    "security_setting": "Security setting",
    "database": "Database",
}

# Who acted when no member of staff did (AuditEntry.actor_label).
ACTOR_LABELS: dict[str, str] = {
    "client": "A client",
    "anonymous": "Someone not signed in",
    "system": "The system",
    "worker": "The background worker",
    "cli": "The command line",
}

DETAIL_WORDS: dict[str, str] = {
    "added": "Added",
    "after": "After",
    "amount_minor": "Amount",
    "appointment_id": "Visit",
    "before": "Before",
    "brand": "Card",
    "by": "By",
    "bytes": "Size in bytes",
    "clearance_id": "Clearance",
    "code": "Code",
    "credential_id": "Credential",
    "direction": "Direction",
    "document_id": "Document",
    "during": "During",
    "expires_at": "Until",
    "fee_minor": "Fee",
    "fee_minor_was": "Fee was",
    "fields": "Fields",
    "filter": "Filter",
    "for": "For",
    "form": "Form version",
    "format": "Format",
    "from": "From",
    "from_event": "From event",
    "grant_id": "Break-glass grant",
    "had_second_factor": "Had a second factor",
    "intake_id": "Health form",
    "kind": "Kind",
    "last4": "Last 4 digits",
    "late": "Late",
    "left": "Codes left",
    "links": "Links",
    "location_id": "Location",
    "location_ids": "Locations",
    "method": "Method",
    "ok": "Chain intact",
    "on_date": "Date",
    "other_sessions_ended": "Other sessions ended",
    "overrides": "Rules relaxed",
    "path": "File",
    "place": "Place",
    "problem": "Problem",
    "recovery_codes": "Recovery codes",
    "refund_id": "Refund",
    "reminders": "Reminders",
    "removed": "Removed",
    "replaced": "Replaced",
    "replaced_chain_head": "Chain head replaced",
    "replaced_feed_id": "Replaced link",
    "revision": "Schema revision",
    "roles": "Roles",
    "sealed": "Sealed",
    "second_factor": "Second factor",
    "sha256": "SHA-256",
    "source": "Source",
    "state": "State",
    "status": "Status",
    "therapist_changed": "Therapist changed",
    "therapist_chosen": "Therapist chosen",
    "therapist_id": "Therapist",
    "time_off_id": "Time off",
    "tip_minor": "Tip",
    "to": "To",
    "unsealed": "Waiting to be sealed",
    "until": "Until",
    "upcoming_visits": "Upcoming visits",
    "user_id": "Staff account",
    "verified": "Verified",
    "via": "Through",
    "view": "Page",
    "visits_inside": "Visits inside",
    "visits_that_day": "Visits that day",
    "waived_minor": "Fee waived",
}

# Reason codes the code writes, in words; a reason typed by staff is shown as typed.
REASON_WORDS: dict[str, str] = {
    "unknown_email": "No account has that email address",
    "disabled": "The account is disabled",
    "wrong_password": "Wrong password",
    "wrong_code": "Wrong code",
}

# Where details name how a request reached us; not health information, shown for any action.
REQUEST_KEYS = ("ip", "request_id")
_ACTION_PATTERN = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+", re.ASCII)
# Subject ids are numbers or setting names; nothing else can match, so refuse it early
# (and a NUL byte, which PostgreSQL refuses in a query parameter, never reaches it).
_SUBJECT_ID = re.compile(r"[A-Za-z0-9._:-]+", re.ASCII)
_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def action_of(name: str) -> Action:
    """The catalogue entry, or for an action it does not know yet, words made from the
    name and no details shown (withheld until someone decides they are safe)."""
    known = ACTIONS.get(name)
    if known is not None:
        return known
    family, _, rest = name.partition(".")
    words = f"{family.replace('_', ' ')}: {rest.replace('_', ' ').replace('.', ' ')}"
    # A break-glass entry's reason is the point of it; anything else unknown shows none.
    return Action(words[:1].upper() + words[1:], reason=family == "break_glass")


def family_of(action: str) -> str:
    return action.partition(".")[0]


def group_actions(slug: str) -> tuple[str, ...]:
    families = set(GROUPS[slug][1])
    return tuple(name for name in ACTIONS if family_of(name) in families)


def action_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The action select: (group label, [(value, words)]), each group led by "All ..."."""
    return [
        (
            label,
            [(GROUP_PREFIX + slug, f"All: {label.lower()}")]
            + [(name, ACTIONS[name].words) for name in group_actions(slug)],
        )
        for slug, (label, _) in GROUPS.items()
    ]


# The filter


@dataclass(frozen=True)
class StaffChoice:
    user_id: int
    name: str
    email: str
    active: bool


@dataclass(frozen=True)
class AuditFilter:
    """A validated filter. `query` holds its non-empty raw values, to carry it in links
    and forms; `since` and `until` are UTC instants (until exclusive)."""

    query: dict[str, str] = field(default_factory=dict)
    actor_user_id: int | None = None
    actor_label: str | None = None
    actions: tuple[str, ...] = ()
    subject_type: str | None = None
    subject_id: str | None = None
    from_day: date | None = None
    to_day: date | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.actor_user_id is not None:
            found.append(AuditEntry.actor_user_id == self.actor_user_id)
        if self.actor_label is not None:
            found.append(AuditEntry.actor_user_id.is_(None))
            found.append(AuditEntry.actor_label == self.actor_label)
        if len(self.actions) == 1:
            found.append(AuditEntry.action == self.actions[0])
        elif self.actions:
            # A group: an IN list of known names (LIKE 'family.%' would depend on the
            # collation). Written as `action || ''` so that neither database answers it
            # from the action index, which would sort every match of a common group (all
            # visits) to find the newest 51: the primary key, newest first, stops after
            # 51 matches, and its worst case, a rare group, is one pass over the table.
            found.append((AuditEntry.action + "").in_(self.actions))
        if self.subject_type is not None:
            found.append(AuditEntry.subject_type == self.subject_type)
        if self.subject_id is not None:
            found.append(AuditEntry.subject_id == self.subject_id)
        if self.since is not None:
            found.append(AuditEntry.occurred_at >= self.since)
        if self.until is not None:
            found.append(AuditEntry.occurred_at < self.until)
        return found


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of `day` in `zone`, in UTC. Where a clock change skips midnight,
    fold=0 reads it with the offset before the change, which is the day's first instant."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _iso_day(checker: Checker, values: Mapping[str, str], name: str, what: str) -> date | None:
    raw = values.get(name, "")
    if not raw:
        return None
    try:
        found = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        found = None
    if found is None:
        checker.fail(name, f"Enter the {what} as a real date, like 2026-11-27")
        return None
    if not EARLIEST_YEAR <= found.year <= LATEST_YEAR:
        checker.fail(name, f"The year must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
        return None
    return found


def read_filter(
    params: Mapping[str, str], *, zone: ZoneInfo, staff: Iterable[StaffChoice]
) -> AuditFilter:
    """The filter from the page's query (or the export form), or InvalidInput with a
    message beside each field that is wrong. Dates are days in `zone`, both included."""
    values = {name: str(params.get(name, "") or "").strip() for name in FILTER_FIELDS}
    checker = Checker()
    actor_user_id: int | None = None
    actor_label: str | None = None
    if actor := values["actor"]:
        known = {choice.user_id for choice in staff}
        if actor in ACTOR_LABELS:
            actor_label = actor
        elif actor.isascii() and actor.isdigit() and len(actor) <= 9 and int(actor) in known:
            actor_user_id = int(actor)
        if actor_user_id is None and actor_label is None:
            checker.fail("actor", "Choose who acted from the list")
    actions: tuple[str, ...] = ()
    if action := values["action"]:
        slug = action.removeprefix(GROUP_PREFIX)
        if action.startswith(GROUP_PREFIX) and slug in GROUPS:
            actions = group_actions(slug)
        elif _ACTION_PATTERN.fullmatch(action) and len(action) <= 100:
            # Exact names outside the catalogue are allowed: an entry of an action the
            # list does not know yet can still be found.
            actions = (action,)
        else:
            checker.fail("action", "Choose an action from the list")
    subject_type = values["subject_type"] or None
    if subject_type is not None and subject_type not in SUBJECT_TYPES:
        checker.fail("subject_type", "Choose the kind of record from the list")
    subject_id = checker.text(values, "subject_id", max_length=64, label="The record number")
    if subject_id and not _SUBJECT_ID.fullmatch(subject_id):
        checker.fail(
            "subject_id", "The record number can only have letters, numbers, dots, - and _"
        )
    if subject_id and subject_type is None and "subject_type" not in checker.errors:
        checker.fail("subject_type", "Choose the kind of record the number belongs to")
    from_day = _iso_day(checker, values, "from", "start date")
    to_day = _iso_day(checker, values, "to", "end date")
    if from_day and to_day and to_day < from_day:
        checker.fail("to", "The end date must be the same as or after the start date")
    checker.done()
    return AuditFilter(
        query={k: v for k, v in values.items() if v},
        actor_user_id=actor_user_id,
        actor_label=actor_label,
        actions=actions,
        subject_type=subject_type,
        subject_id=subject_id or None,
        from_day=from_day,
        to_day=to_day,
        since=local_midnight(from_day, zone) if from_day else None,
        until=local_midnight(to_day + timedelta(days=1), zone) if to_day else None,
    )


def read_cursor(raw: str) -> int | None:
    """The `before` of an "older entries" link: an entry id, or None when absent.
    ValueError when it is not one (a link someone edited)."""
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ValueError(raw)
    return int(raw)


# Reading entries


@dataclass(frozen=True)
class EntryRow:
    """One entry as an admin may see it: no details but the allowed ones."""

    id: int
    occurred_at: datetime
    actor_user_id: int | None
    actor_name: str
    actor_email: str
    action: str
    action_words: str
    subject_type: str
    subject_id: str
    reason: str
    ip: str
    request_id: str
    details: dict[str, Any]

    @property
    def subject_words(self) -> str:
        if not self.subject_type:
            return ""
        kind = SUBJECT_TYPES.get(self.subject_type, self.subject_type.replace("_", " "))
        return f"{kind} {self.subject_id}".strip()


def safe_details(action: str, details: object) -> tuple[dict[str, Any], str, str, str]:
    """(allowed details, reason, ip, request id) from an entry's stored details."""
    stored: Mapping[str, Any] = details if isinstance(details, Mapping) else {}
    kind = action_of(action)
    shown = {key: stored[key] for key in kind.shown if key in stored}
    raw_reason = stored.get("reason") if kind.reason else None
    reason = REASON_WORDS.get(str(raw_reason), str(raw_reason)) if raw_reason else ""
    ip, request_id = (str(stored.get(key) or "") for key in REQUEST_KEYS)
    return shown, reason, ip, request_id


def _entries(audit_filter: AuditFilter) -> Select[Any]:
    return (
        select(
            AuditEntry.id,
            AuditEntry.occurred_at,
            AuditEntry.actor_user_id,
            AuditEntry.actor_label,
            AuditEntry.action,
            AuditEntry.subject_type,
            AuditEntry.subject_id,
            AuditEntry.details,
            User.name,
            User.email,
        )
        .outerjoin(User, User.id == AuditEntry.actor_user_id)
        .where(*audit_filter.conditions())
        .order_by(AuditEntry.id.desc())
    )


async def _read(
    session: AsyncSession, audit_filter: AuditFilter, *, before: int | None, limit: int
) -> list[EntryRow]:
    query = _entries(audit_filter).limit(limit)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    rows = []
    for row in await session.execute(query):
        shown, reason, ip, request_id = safe_details(row.action, row.details)
        label = row.actor_label or ""
        rows.append(
            EntryRow(
                id=row.id,
                occurred_at=row.occurred_at,
                actor_user_id=row.actor_user_id,
                actor_name=row.name or ACTOR_LABELS.get(label, label) or "Unknown",
                actor_email=row.email or "",
                action=row.action,
                action_words=action_of(row.action).words,
                subject_type=row.subject_type,
                subject_id=row.subject_id,
                reason=reason,
                ip=ip,
                request_id=request_id,
                details=shown,
            )
        )
    return rows


@dataclass(frozen=True)
class EntriesPage:
    rows: list[EntryRow]
    # The `before` of the next older page, or None on the last page.
    older: int | None


async def entries_page(
    session: AsyncSession, audit_filter: AuditFilter, *, before: int | None
) -> EntriesPage:
    """Up to PAGE_SIZE entries older than entry `before`, newest first: one statement
    (one extra row says whether an older page exists)."""
    rows = await _read(session, audit_filter, before=before, limit=PAGE_SIZE + 1)
    shown = rows[:PAGE_SIZE]
    return EntriesPage(shown, shown[-1].id if len(rows) > PAGE_SIZE else None)


async def staff_choices(session: AsyncSession) -> list[StaffChoice]:
    """Every staff account, disabled ones too (their past actions stay in the trail)."""
    rows = await session.execute(
        select(User.id, User.name, User.email, User.active).order_by(User.name, User.id)
    )
    return [StaffChoice(r.id, r.name, r.email, r.active) for r in rows]


# Words for details


def detail_items(row: EntryRow, currency: str, zone: ZoneInfo) -> list[tuple[str, str]]:
    """The allowed details as (label, value) in words, in the catalogue's order."""
    return [
        (DETAIL_WORDS.get(key, key), detail_text(key, value, currency, zone))
        for key, value in row.details.items()
    ]


def detail_text(key: str, value: object, currency: str, zone: ZoneInfo) -> str:
    if key.endswith("_minor") and isinstance(value, int) and not isinstance(value, bool):
        return money(value, currency)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, str) and (instant := _instant(value)) is not None:
        return local_time(instant, zone)
    if isinstance(value, list | tuple):
        return ", ".join(detail_text(key, item, currency, zone) for item in value) or "none"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {detail_text(str(k), v, currency, zone)}" for k, v in value.items())
    return str(value)


def _instant(text: str) -> datetime | None:
    """An ISO instant with its offset, as details store times (a visit moved from, a hold
    kept until), or None for any other text."""
    if len(text) < 19 or text[10] != "T":
        return None
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        return None
    return found if found.utcoffset() is not None else None


def local_time(instant: datetime, zone: ZoneInfo) -> str:
    """Fri 27 Nov 2026, 8:00:05am EST: to the second, with the zone's name at that instant
    (it changes across a clock change)."""
    local = instant.astimezone(zone)
    hour = local.hour % 12 or 12
    suffix = "am" if local.hour < 12 else "pm"
    return (
        f"{local:%a} {local.day} {local:%b %Y}, "
        f"{hour}:{local.minute:02d}:{local.second:02d}{suffix} {local.tzname()}"
    )


# Exporting


def csv_cell(value: object) -> object:
    """A cell a spreadsheet will not run: text starting with =, +, -, @, a tab or a
    carriage return gets a leading apostrophe (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(_CSV_TRIGGERS):
        return "'" + value
    return value


EXPORT_COLUMNS = (
    "entry_id",
    "occurred_at_utc",
    "occurred_at_local",
    "zone",
    "actor_user_id",
    "actor",
    "actor_email",
    "action",
    "action_words",
    "subject_type",
    "subject_id",
    "reason",
    "ip",
    "request_id",
    "details",
)


def export_record(row: EntryRow, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "entry_id": row.id,
        "occurred_at_utc": row.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "occurred_at_local": row.occurred_at.astimezone(zone).isoformat(timespec="seconds"),
        "zone": zone.key,
        "actor_user_id": row.actor_user_id,
        "actor": row.actor_name,
        "actor_email": row.actor_email,
        "action": row.action,
        "action_words": row.action_words,
        "subject_type": row.subject_type,
        "subject_id": row.subject_id,
        "reason": row.reason,
        "ip": row.ip,
        "request_id": row.request_id,
        "details": row.details,
    }


@dataclass(frozen=True)
class Export:
    """An export begun: its own audit entry is committed; `chunks` streams the entries
    recorded before it."""

    entry_id: int
    filename: str
    media_type: str
    chunks: AsyncIterator[bytes]


async def start_export(
    db: Database,
    audit_filter: AuditFilter,
    *,
    file_format: str,
    zone: ZoneInfo,
    today: date,
    actor_user_id: int,
    ip: str,
    request_id: str,
) -> Export:
    """Record the export (who, which filter, which format) and commit it before the first
    byte leaves, then stream the entries older than that record."""
    if file_format not in EXPORT_FORMATS:
        raise ValueError(file_format)
    async with db.transaction() as session:
        entry = audit.record(
            session,
            EXPORTED,
            actor_user_id=actor_user_id,
            details={
                "filter": audit_filter.query,
                "format": file_format,
                "ip": ip,
                "request_id": request_id,
            },
        )
        await session.flush()
        entry_id = entry.id
    first = audit_filter.from_day.isoformat() if audit_filter.from_day else "start"
    last = (audit_filter.to_day or today).isoformat()
    rows = _export_rows(db, audit_filter, below=entry_id)
    if file_format == "csv":
        return Export(entry_id, f"audit-{first}-to-{last}.csv", "text/csv", _csv(rows, zone))
    return Export(
        entry_id, f"audit-{first}-to-{last}.jsonl", "application/x-ndjson", _jsonl(rows, zone)
    )


async def _export_rows(
    db: Database, audit_filter: AuditFilter, *, below: int
) -> AsyncIterator[list[EntryRow]]:
    """Batches of entries with ids below `below`, newest first; each batch its own read,
    so no connection is held while the client takes its time downloading."""
    cursor = below
    while True:
        async with db.reading() as session:
            batch = await _read(session, audit_filter, before=cursor, limit=EXPORT_BATCH)
        if batch:
            yield batch
        if len(batch) < EXPORT_BATCH:
            return
        cursor = batch[-1].id


async def _csv(batches: AsyncIterator[list[EntryRow]], zone: ZoneInfo) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # A byte order mark: without it, spreadsheet programs read UTF-8 names as Latin-1.
    buffer.write("\ufeff")
    writer.writerow(EXPORT_COLUMNS)
    async for batch in batches:
        for row in batch:
            record = export_record(row, zone)
            record["details"] = json.dumps(record["details"], ensure_ascii=False, sort_keys=True)
            writer.writerow([csv_cell(record[column]) for column in EXPORT_COLUMNS])
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


async def _jsonl(batches: AsyncIterator[list[EntryRow]], zone: ZoneInfo) -> AsyncIterator[bytes]:
    async for batch in batches:
        lines = (json.dumps(export_record(row, zone), ensure_ascii=False) for row in batch)
        yield ("\n".join(lines) + "\n").encode("utf-8")


# The chain


@dataclass(frozen=True)
class ChainCheck:
    """The newest check of the hash chain made from this page."""

    at: datetime
    by: str
    ok: bool
    sealed: int
    unsealed: int
    problem: str


async def check_chain(db: Database, *, actor_user_id: int, ip: str, request_id: str) -> ChainReport:
    """Verify the whole chain now (clinic/audit.py) and record the result in the trail."""
    report = await audit.verify_chain(db)
    async with db.transaction() as session:
        audit.record(
            session,
            CHAIN_CHECKED,
            actor_user_id=actor_user_id,
            details={
                "ok": report.ok,
                "sealed": report.sealed,
                "unsealed": report.unsealed,
                "problem": report.problem or "",
                "ip": ip,
                "request_id": request_id,
            },
        )
    return report


async def last_chain_check(session: AsyncSession) -> ChainCheck | None:
    """One indexed lookup: the newest chain-checked entry."""
    row = (
        await session.execute(
            select(AuditEntry.occurred_at, AuditEntry.details, User.name)
            .outerjoin(User, User.id == AuditEntry.actor_user_id)
            .where(AuditEntry.action == CHAIN_CHECKED)
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    details = row.details if isinstance(row.details, Mapping) else {}
    return ChainCheck(
        at=row.occurred_at,
        by=row.name or "Unknown",
        ok=details.get("ok") is True,
        sealed=int(details.get("sealed") or 0),
        unsealed=int(details.get("unsealed") or 0),
        problem=str(details.get("problem") or ""),
    )
