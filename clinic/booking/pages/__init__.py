"""The client's booking pages (/book...) and manage pages (/manage/{token}...): one
question per page, post-redirect-get, all of it working with JavaScript off. The URL map
(clinic/routes.py) takes its endpoints from here."""

from __future__ import annotations

from clinic.booking.pages.checkout import (
    check_page,
    check_submit,
    details_form,
    details_submit,
    done_page,
)
from clinic.booking.pages.choices import ANY
from clinic.booking.pages.choose import (
    service_form,
    service_submit,
    therapist_form,
    therapist_submit,
    time_form,
    time_submit,
)
from clinic.booking.pages.cookies import (
    BROWSER_COOKIE,
    DETAILS_COOKIE,
    GATE_COOKIE,
    HOLD_COOKIE,
    INTAKE_COOKIE,
)
from clinic.booking.pages.health import (
    health_form,
    health_form_submit,
    health_plan,
    health_question,
    health_question_submit,
)
from clinic.booking.pages.manage import (
    manage_cancel_form,
    manage_cancel_submit,
    manage_confirm_form,
    manage_confirm_submit,
    manage_page,
    manage_reminders_submit,
    manage_time_form,
    manage_time_submit,
)
from clinic.booking.pages.manage_intake import (
    manage_intake_form,
    manage_intake_plan,
    manage_intake_submit,
)
from clinic.booking.pages.times import time_grid

__all__ = [
    "ANY",
    "BROWSER_COOKIE",
    "DETAILS_COOKIE",
    "GATE_COOKIE",
    "HOLD_COOKIE",
    "INTAKE_COOKIE",
    "check_page",
    "check_submit",
    "details_form",
    "details_submit",
    "done_page",
    "health_form",
    "health_form_submit",
    "health_plan",
    "health_question",
    "health_question_submit",
    "manage_cancel_form",
    "manage_cancel_submit",
    "manage_confirm_form",
    "manage_confirm_submit",
    "manage_intake_form",
    "manage_intake_plan",
    "manage_intake_submit",
    "manage_page",
    "manage_reminders_submit",
    "manage_time_form",
    "manage_time_submit",
    "service_form",
    "service_submit",
    "therapist_form",
    "therapist_submit",
    "time_form",
    "time_grid",
    "time_submit",
]
