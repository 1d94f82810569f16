"""Admin pages: staff accounts and their roles; therapists with their details, services,
weekly hours, time off and credentials; credentials about to expire; services, rooms and
closures; the clinic's policies; the order of services and therapists in booking. Thin:
each page reads its form, calls one use case in clinic/admin/, and renders or redirects.
A form with bad input comes back with 422, its values kept and each message beside its
field."""

from __future__ import annotations

from clinic.areas.admin.audit import audit_export, audit_trail, audit_verify
from clinic.areas.admin.break_glass import break_glass_grants
from clinic.areas.admin.catalogue import (
    closure_add,
    closure_remove,
    closures,
    room_create,
    room_new_form,
    room_page,
    room_save,
    rooms,
    service_create,
    service_new_form,
    service_page,
    service_save,
    services,
)
from clinic.areas.admin.display_order import display_order, service_move, therapist_move
from clinic.areas.admin.policies import policies, policy_section, policy_section_save
from clinic.areas.admin.therapists import (
    credential_create,
    credential_new_form,
    credential_verify,
    expiring,
    therapist_create,
    therapist_deactivate,
    therapist_deactivate_form,
    therapist_details_form,
    therapist_details_save,
    therapist_hours_form,
    therapist_hours_save,
    therapist_new_form,
    therapist_page,
    therapist_reactivate,
    therapist_services_form,
    therapist_services_save,
    therapist_time_off,
    therapist_time_off_add,
    therapist_time_off_remove,
    therapists,
)
from clinic.areas.admin.users import (
    change_user,
    new_user,
    new_user_form,
    user_detail,
    users,
)

__all__ = [
    "audit_export",
    "audit_trail",
    "audit_verify",
    "break_glass_grants",
    "change_user",
    "closure_add",
    "closure_remove",
    "closures",
    "credential_create",
    "credential_new_form",
    "credential_verify",
    "display_order",
    "expiring",
    "new_user",
    "new_user_form",
    "policies",
    "policy_section",
    "policy_section_save",
    "room_create",
    "room_new_form",
    "room_page",
    "room_save",
    "rooms",
    "service_create",
    "service_move",
    "service_new_form",
    "service_page",
    "service_save",
    "services",
    "therapist_create",
    "therapist_deactivate",
    "therapist_deactivate_form",
    "therapist_details_form",
    "therapist_details_save",
    "therapist_hours_form",
    "therapist_hours_save",
    "therapist_move",
    "therapist_new_form",
    "therapist_page",
    "therapist_reactivate",
    "therapist_services_form",
    "therapist_services_save",
    "therapist_time_off",
    "therapist_time_off_add",
    "therapist_time_off_remove",
    "therapists",
    "user_detail",
    "users",
]
