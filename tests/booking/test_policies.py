"""Booking policies decide fees, refunds and deposits; the status machine is one table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from clinic.booking.policies import (
    Policies,
    PolicyError,
    cancellation_terms,
    deposit_for,
    no_show_fee,
    policies_from,
)
from clinic.booking.statuses import AppointmentStatus as S
from clinic.booking.statuses import CancelledBy
from clinic.booking.transitions import TRANSITIONS, InvalidTransition, check_transition
from clinic.cli import main

START = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
PRICE = 9500


@pytest.mark.parametrize(
    ("hours_before", "by", "medical", "fee", "late", "rebook"),
    [
        (48, CancelledBy.CLIENT, False, 0, False, False),
        (24, CancelledBy.CLIENT, False, 0, False, False),  # exactly at the deadline: free
        (23.5, CancelledBy.CLIENT, False, 4750, True, False),
        (1, CancelledBy.CLIENT, False, 4750, True, False),
        (1, CancelledBy.CLIENT, True, 0, True, False),  # illness or a treatment reaction
        (1, CancelledBy.CLINIC, False, 0, True, True),  # a sick therapist costs the client nothing
        (72, CancelledBy.CLINIC, False, 0, False, True),
    ],
)
def test_cancellation_fee_follows_the_window_and_who_cancelled(
    hours_before: float, by: CancelledBy, medical: bool, fee: int, late: bool, rebook: bool
) -> None:
    terms = cancellation_terms(
        Policies(),
        price_minor=PRICE,
        starts_at=START,
        now=START - timedelta(hours=hours_before),
        cancelled_by=by,
        medically_excused=medical,
    )
    assert (terms.fee_minor, terms.late, terms.needs_rebooking) == (fee, late, rebook)
    assert terms.free_until == START - timedelta(hours=24)


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("none", 0, 0),
        ("percent", 20, 1900),
        ("percent", 33, 3135),
        ("fixed", 2500, 2500),
        ("fixed", 20000, PRICE),
        ("full", 0, PRICE),
    ],
)
def test_deposit_rules(kind: str, value: int, expected: int) -> None:
    assert deposit_for(Policies(deposit_kind=kind, deposit_value=value), PRICE) == expected


def test_no_show_fee_is_a_share_of_the_price() -> None:
    assert no_show_fee(Policies(), PRICE) == PRICE
    assert no_show_fee(Policies(no_show_fee_percent=50), 9999) == 5000


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"hold_minutes": 0}, "hold_minutes"),
        ({"hold_minutes": "10"}, "hold_minutes"),
        ({"late_cancellation_fee_percent": 150}, "late_cancellation_fee_percent"),
        ({"deposit_kind": "most"}, "deposit_kind"),
        ({"deposit_kind": "percent", "deposit_value": 120}, "deposit_value"),
        ({"colour": 3}, "colour"),
    ],
)
def test_bad_policy_values_name_the_policy(values: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        policies_from(values)


def test_stored_values_override_only_what_they_name() -> None:
    assert policies_from({"hold_minutes": 15}) == Policies(hold_minutes=15)
    assert policies_from(None) == Policies()


def test_every_status_has_a_row_in_the_transition_table() -> None:
    assert set(TRANSITIONS) == set(S)
    for targets in TRANSITIONS.values():
        assert targets <= set(S)


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        (S.HELD, S.CONFIRMED, True),
        (S.HELD, S.COMPLETED, False),
        (S.CONFIRMED, S.CHECKED_IN, True),
        (S.CHECKED_IN, S.COMPLETED, True),
        (S.CHECKED_IN, S.CONFIRMED, True),  # undo a check-in
        (S.NO_SHOW, S.CONFIRMED, True),  # undo a no-show
        (S.CANCELLED, S.CONFIRMED, False),
        (S.COMPLETED, S.CANCELLED, False),
        (S.EXPIRED, S.CONFIRMED, True),  # a late confirmation while the time is still free
    ],
)
def test_transitions(old: S, new: S, allowed: bool) -> None:
    if allowed:
        check_transition(old, new)
    else:
        with pytest.raises(InvalidTransition, match="cannot be"):
            check_transition(old, new)


def test_policy_command_shows_and_sets_values(tmp_path: Path) -> None:
    env = {
        "CLINIC_VAR_DIR": str(tmp_path),
        "CLINIC_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "CLINIC_ENV": "test",
    }
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    shown = runner.invoke(main, ["policy", "show"], env=env)
    assert shown.exit_code == 0
    assert "hold_minutes" in shown.output
    assert " 10 " in shown.output
    changed = runner.invoke(main, ["policy", "set", "hold_minutes", "15"], env=env)
    assert changed.exit_code == 0, changed.output
    assert (
        "hold_minutes                     15"
        in runner.invoke(main, ["policy", "show"], env=env).output
    )
    refused = runner.invoke(main, ["policy", "set", "hold_minutes", "500"], env=env)
    assert refused.exit_code != 0
    assert "between 2 and 60" in refused.output


def test_a_taken_room_falls_back_to_the_other_fitting_rooms_in_order() -> None:
    from clinic.booking.taking import _other_rooms
    from clinic.scheduling.availability import Slot

    first = Slot(START, START + timedelta(hours=1), therapist_id=7, room_id=2)
    second = Slot(START, START + timedelta(hours=1), therapist_id=9, room_id=3)
    extra = _other_rooms([first, second], (3, 2, 5))
    assert [(s.therapist_id, s.room_id) for s in extra] == [(7, 3), (7, 5), (9, 2), (9, 5)]
    assert _other_rooms([Slot(START, START, 1, None)], (1, 2)) == []
