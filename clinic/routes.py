"""The whole URL map. Route names are `area:action`; templates build links with url_for."""

from __future__ import annotations

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from clinic.api import bookings as api_bookings
from clinic.api import intakes as api_intakes
from clinic.api import openapi
from clinic.api import routes as api
from clinic.areas import admin, clinical, desk, desk_attention, desk_booking, desk_visits, therapist
from clinic.auth import account_pages, policy_pages
from clinic.auth import routes as auth
from clinic.booking import pages as booking
from clinic.booking.pages import manage_check
from clinic.clearance import documents_web, review_pages
from clinic.clearance import pages as clearance
from clinic.payments import desk_pages as desk_payments
from clinic.payments import web as payments
from clinic.settings import PROJECT_ROOT
from clinic.web import ids, pages

# `{name:id}` in the paths below (clinic/web/ids.py).
ids.register()


def build_routes() -> list[Route | Mount]:
    return [
        Route("/", pages.home, name="public:home"),
        Route("/healthz", pages.healthz, name="health"),
        Route("/login", auth.login_form, methods=["GET"], name="auth:login"),
        Route("/login", auth.login, methods=["POST"], name="auth:login_submit"),
        Route("/logout", auth.logout, methods=["POST"], name="auth:logout"),
        # Staff second factor (clinic/auth/): the code step of signing in, each member's
        # account security pages, and the admin's choice of roles that must use it.
        Route("/login/code", auth.code_form, methods=["GET"], name="auth:code"),
        Route("/login/code", auth.code_submit, methods=["POST"], name="auth:code_submit"),
        Route("/account", account_pages.overview, methods=["GET"], name="account:security"),
        Route(
            "/account/second-factor",
            account_pages.second_factor_page,
            methods=["GET"],
            name="account:second_factor",
        ),
        Route(
            "/account/second-factor/start",
            account_pages.second_factor_start,
            methods=["POST"],
            name="account:second_factor_start",
        ),
        Route(
            "/account/second-factor/confirm",
            account_pages.second_factor_confirm,
            methods=["POST"],
            name="account:second_factor_confirm",
        ),
        Route(
            "/account/second-factor/off",
            account_pages.second_factor_off,
            methods=["POST"],
            name="account:second_factor_off",
        ),
        Route(
            "/account/recovery-codes",
            account_pages.recovery_codes,
            methods=["POST"],
            name="account:recovery_codes",
        ),
        Route(
            "/account/password",
            account_pages.password_form,
            methods=["GET"],
            name="account:password",
        ),
        Route(
            "/account/password",
            account_pages.password_save,
            methods=["POST"],
            name="account:password_save",
        ),
        Route("/account/email", account_pages.email_form, methods=["GET"], name="account:email"),
        Route(
            "/account/email", account_pages.email_save, methods=["POST"], name="account:email_save"
        ),
        Route(
            "/admin/second-factor",
            policy_pages.second_factor_form,
            methods=["GET"],
            name="admin:second_factor",
        ),
        Route(
            "/admin/second-factor",
            policy_pages.second_factor_save,
            methods=["POST"],
            name="admin:second_factor_save",
        ),
        Route("/desk/", desk.today, name="desk:today"),
        # The desk's calendar (clinic/areas/desk.py): a day, a therapist's week, one
        # visit's panel with check-in and the undos. `{day:desk_day}` only matches what
        # starts with a digit, so /desk/week, /desk/takings and the like never reach it.
        Route("/desk/week", desk.week, methods=["GET"], name="desk:week"),
        # The day grid's row height, a preference of the signed-in member of staff.
        Route("/desk/density", desk.density, methods=["POST"], name="desk:density"),
        # Booking on a client's behalf (clinic/areas/desk_booking.py): find or add the
        # client, choose the visit (a POST: it may carry the gate answer), book.
        Route("/desk/book", desk_booking.find_client, methods=["GET"], name="desk:book"),
        Route(
            "/desk/clients", desk_booking.create_client, methods=["POST"], name="desk:client_create"
        ),
        Route(
            "/desk/book/{client_id:id}",
            desk_booking.choose_visit,
            methods=["GET"],
            name="desk:book_client",
        ),
        Route(
            "/desk/book/{client_id:id}",
            desk_booking.show_times,
            methods=["POST"],
            name="desk:book_times",
        ),
        Route(
            "/desk/book/{client_id:id}/confirm",
            desk_booking.book_visit,
            methods=["POST"],
            name="desk:book_submit",
        ),
        # Visits that can no longer go ahead as booked (clinic/areas/desk_attention.py).
        Route("/desk/attention", desk_attention.attention, methods=["GET"], name="desk:attention"),
        Route("/desk/{day:desk_day}", desk.day, methods=["GET"], name="desk:day"),
        Route(
            "/desk/appointments/{appointment_id:id}",
            desk.visit_panel,
            methods=["GET"],
            name="desk:visit",
        ),
        Route(
            "/desk/appointments/{appointment_id:id}/check-in",
            desk.check_in_visit,
            methods=["POST"],
            name="desk:check_in",
        ),
        Route(
            "/desk/appointments/{appointment_id:id}/check-in/undo",
            desk.undo_check_in_visit,
            methods=["POST"],
            name="desk:check_in_undo",
        ),
        Route(
            "/desk/appointments/{appointment_id:id}/no-show/undo",
            desk.undo_no_show_visit,
            methods=["POST"],
            name="desk:no_show_undo",
        ),
        # Moving and cancelling a visit (clinic/areas/desk_visits.py).
        Route(
            "/desk/appointments/{appointment_id:id}/move",
            desk_visits.move_page,
            methods=["GET"],
            name="desk:move",
        ),
        Route(
            "/desk/appointments/{appointment_id:id}/move",
            desk_visits.move_submit,
            methods=["POST"],
            name="desk:move_submit",
        ),
        Route(
            "/desk/appointments/{appointment_id:id}/cancel",
            desk_visits.cancel_page,
            methods=["GET"],
            name="desk:cancel",
        ),
        Route(
            "/desk/appointments/{appointment_id:id}/cancel",
            desk_visits.cancel_submit,
            methods=["POST"],
            name="desk:cancel_submit",
        ),
        # Clearances (clinic/clearance/pages.py): the desk's view, forms and letter; the
        # clinician's page that records the outcome.
        Route(
            "/desk/appointments/{appointment_id:id}/clearance",
            clearance.desk_page,
            methods=["GET"],
            name="desk:clearance",
        ),
        Route(
            "/desk/appointments/{appointment_id:id}/clearance/request",
            clearance.desk_request,
            methods=["POST"],
            name="desk:clearance_request",
        ),
        Route(
            "/desk/appointments/{appointment_id:id}/clearance/chase",
            clearance.desk_chase,
            methods=["POST"],
            name="desk:clearance_chase",
        ),
        Route(
            "/desk/appointments/{appointment_id:id}/clearance/received",
            clearance.desk_received,
            methods=["POST"],
            name="desk:clearance_received",
        ),
        Route(
            "/desk/appointments/{appointment_id:id}/clearance/letter",
            clearance.letter,
            methods=["GET"],
            name="desk:clearance_letter",
        ),
        Route(
            "/desk/clearances/{clearance_id:id}/documents",
            documents_web.upload_document,
            methods=["POST"],
            name="desk:clearance_document_add",
        ),
        Route(
            "/clearances/documents/{document_id:id}",
            documents_web.download_document,
            methods=["GET"],
            name="clearance:document",
        ),
        Route(
            "/clinical/reviews/{appointment_id:id}",
            review_pages.review_page,
            name="clinical:review_visit",
        ),
        Route(
            "/clinical/reviews/{appointment_id:id}/confirm",
            review_pages.confirm,
            methods=["POST"],
            name="clinical:review_confirm",
        ),
        Route(
            "/clinical/reviews/{appointment_id:id}/plan",
            review_pages.adjust,
            methods=["POST"],
            name="clinical:review_adjust",
        ),
        Route(
            "/clinical/reviews/{appointment_id:id}/clearance",
            review_pages.clearance,
            methods=["POST"],
            name="clinical:review_clearance",
        ),
        Route(
            "/clinical/clearances/{clearance_id:id}",
            clearance.clinical_page,
            methods=["GET"],
            name="clinical:clearance",
        ),
        Route(
            "/clinical/clearances/{clearance_id:id}",
            clearance.clinical_record,
            methods=["POST"],
            name="clinical:clearance_record",
        ),
        # Payments at the desk (clinic/payments/desk_pages/).
        Route(
            "/desk/appointments/{appointment_id:id}/payments",
            desk_payments.payments_page,
            methods=["GET"],
            name="desk:payments",
        ),
        Route(
            "/desk/appointments/{appointment_id:id}/payments",
            desk_payments.record_payment,
            methods=["POST"],
            name="desk:payment_record",
        ),
        Route(
            "/desk/appointments/{appointment_id:id}/no-show",
            desk_payments.no_show,
            methods=["POST"],
            name="desk:no_show",
        ),
        Route(
            "/desk/appointments/{appointment_id:id}/receipt",
            desk_payments.receipt,
            methods=["GET"],
            name="desk:receipt",
        ),
        Route(
            "/desk/payments/{payment_id:id}/refund",
            desk_payments.refund,
            methods=["POST"],
            name="desk:payment_refund",
        ),
        Route("/desk/takings", desk_payments.takings, methods=["GET"], name="desk:takings"),
        Route("/therapist/", therapist.today, name="therapist:today"),
        Route(
            "/therapist/appointments/{appointment_id:id}",
            therapist.appointment,
            name="therapist:appointment",
        ),
        # The therapist's workspace (clinic/areas/therapist.py): week, calendar link and
        # completion before "/therapist/{day}", which would otherwise take their paths.
        Route("/therapist/week", therapist.week, methods=["GET"], name="therapist:week"),
        Route(
            "/therapist/calendar", therapist.calendar, methods=["GET"], name="therapist:calendar"
        ),
        # Not under ".../calendar/": that prefix marks a secret token in the access log.
        Route(
            "/therapist/calendar-link",
            therapist.calendar_create,
            methods=["POST"],
            name="therapist:calendar_create",
        ),
        Route(
            "/therapist/calendar-link/revoke",
            therapist.calendar_revoke,
            methods=["POST"],
            name="therapist:calendar_revoke",
        ),
        Route(
            "/therapist/appointments/{appointment_id:id}/break-glass",
            therapist.break_glass,
            methods=["POST"],
            name="therapist:break_glass",
        ),
        Route(
            "/therapist/appointments/{appointment_id:id}/complete",
            therapist.complete,
            methods=["POST"],
            name="therapist:complete",
        ),
        Route(
            "/therapist/appointments/{appointment_id:id}/uncomplete",
            therapist.uncomplete,
            methods=["POST"],
            name="therapist:uncomplete",
        ),
        Route("/therapist/{day}", therapist.day, methods=["GET"], name="therapist:day"),
        Route(
            "/therapist/{day}/print", therapist.print_day, methods=["GET"], name="therapist:print"
        ),
        # The calendar feed: no sign-in, the token is the credential (redacted in logs).
        Route(
            "/calendar/{token}.ics",
            therapist.calendar_feed,
            methods=["GET"],
            name="calendar:feed",
        ),
        Route("/clinical/", clinical.review, name="clinical:review"),
        Route("/admin/", admin.users, name="admin:users"),
        Route("/admin/users/new", admin.new_user_form, methods=["GET"], name="admin:user_new"),
        Route("/admin/users/new", admin.new_user, methods=["POST"], name="admin:user_create"),
        Route("/admin/users/{user_id:id}", admin.user_detail, methods=["GET"], name="admin:user"),
        Route(
            "/admin/users/{user_id:id}",
            admin.change_user,
            methods=["POST"],
            name="admin:user_save",
        ),
        Route(
            "/admin/users/{user_id:id}/second-factor/reset",
            admin.user_second_factor_reset,
            methods=["POST"],
            name="admin:user_second_factor_reset",
        ),
        # Admin set-up (clinic/areas/admin/, use cases in clinic/admin/): therapists with
        # their details, services, hours, time off and credentials; expiring credentials.
        Route("/admin/therapists", admin.therapists, methods=["GET"], name="admin:therapists"),
        Route(
            "/admin/therapists/new",
            admin.therapist_new_form,
            methods=["GET"],
            name="admin:therapist_new",
        ),
        Route(
            "/admin/therapists/new",
            admin.therapist_create,
            methods=["POST"],
            name="admin:therapist_create",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}",
            admin.therapist_page,
            methods=["GET"],
            name="admin:therapist",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}/details",
            admin.therapist_details_form,
            methods=["GET"],
            name="admin:therapist_details",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}/details",
            admin.therapist_details_save,
            methods=["POST"],
            name="admin:therapist_details_save",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}/services",
            admin.therapist_services_form,
            methods=["GET"],
            name="admin:therapist_services",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}/services",
            admin.therapist_services_save,
            methods=["POST"],
            name="admin:therapist_services_save",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}/hours",
            admin.therapist_hours_form,
            methods=["GET"],
            name="admin:therapist_hours",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}/hours",
            admin.therapist_hours_save,
            methods=["POST"],
            name="admin:therapist_hours_save",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}/time-off",
            admin.therapist_time_off,
            methods=["GET"],
            name="admin:therapist_time_off",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}/time-off",
            admin.therapist_time_off_add,
            methods=["POST"],
            name="admin:therapist_time_off_add",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}/time-off/{time_off_id:id}/remove",
            admin.therapist_time_off_remove,
            methods=["POST"],
            name="admin:therapist_time_off_remove",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}/credentials/new",
            admin.credential_new_form,
            methods=["GET"],
            name="admin:credential_new",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}/credentials/new",
            admin.credential_create,
            methods=["POST"],
            name="admin:credential_create",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}/credentials/{credential_id:id}/verify",
            admin.credential_verify,
            methods=["POST"],
            name="admin:credential_verify",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}/deactivate",
            admin.therapist_deactivate_form,
            methods=["GET"],
            name="admin:therapist_deactivate",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}/deactivate",
            admin.therapist_deactivate,
            methods=["POST"],
            name="admin:therapist_deactivate_confirm",
        ),
        Route(
            "/admin/therapists/{therapist_id:id}/reactivate",
            admin.therapist_reactivate,
            methods=["POST"],
            name="admin:therapist_reactivate",
        ),
        Route(
            "/admin/credentials/expiring",
            admin.expiring,
            methods=["GET"],
            name="admin:expiring",
        ),
        # Services, rooms and closures.
        Route("/admin/services", admin.services, methods=["GET"], name="admin:services"),
        Route(
            "/admin/services/new", admin.service_new_form, methods=["GET"], name="admin:service_new"
        ),
        Route(
            "/admin/services/new",
            admin.service_create,
            methods=["POST"],
            name="admin:service_create",
        ),
        Route(
            "/admin/services/{service_id:id}",
            admin.service_page,
            methods=["GET"],
            name="admin:service",
        ),
        Route(
            "/admin/services/{service_id:id}",
            admin.service_save,
            methods=["POST"],
            name="admin:service_save",
        ),
        Route("/admin/rooms", admin.rooms, methods=["GET"], name="admin:rooms"),
        Route("/admin/rooms/new", admin.room_new_form, methods=["GET"], name="admin:room_new"),
        Route("/admin/rooms/new", admin.room_create, methods=["POST"], name="admin:room_create"),
        Route("/admin/rooms/{room_id:id}", admin.room_page, methods=["GET"], name="admin:room"),
        Route(
            "/admin/rooms/{room_id:id}", admin.room_save, methods=["POST"], name="admin:room_save"
        ),
        Route("/admin/closures", admin.closures, methods=["GET"], name="admin:closures"),
        Route("/admin/closures", admin.closure_add, methods=["POST"], name="admin:closure_add"),
        Route(
            "/admin/closures/{closure_id:id}/remove",
            admin.closure_remove,
            methods=["POST"],
            name="admin:closure_remove",
        ),
        # The clinic's policies (clinic/areas/admin/policies.py): a summary, then a short
        # form per section (booking, payments, screening); an unknown section is 404.
        Route("/admin/policies", admin.policies, methods=["GET"], name="admin:policies"),
        Route(
            "/admin/policies/{section}",
            admin.policy_section,
            methods=["GET"],
            name="admin:policy_section",
        ),
        Route(
            "/admin/policies/{section}",
            admin.policy_section_save,
            methods=["POST"],
            name="admin:policy_section_save",
        ),
        # The order of services and therapists in online booking and the desk's columns.
        Route("/admin/order", admin.display_order, methods=["GET"], name="admin:display_order"),
        Route(
            "/admin/order/services/{service_id:id}",
            admin.service_move,
            methods=["POST"],
            name="admin:service_move",
        ),
        Route(
            "/admin/order/therapists/{therapist_id:id}",
            admin.therapist_move,
            methods=["POST"],
            name="admin:therapist_move",
        ),
        # The audit trail (clinic/areas/admin/audit.py): filter (GET), export and chain
        # check (POSTs: each is itself audited).
        Route("/admin/audit", admin.audit_trail, methods=["GET"], name="admin:audit"),
        Route(
            "/admin/break-glass",
            admin.break_glass_grants,
            methods=["GET"],
            name="admin:break_glass",
        ),
        Route(
            "/admin/audit/export", admin.audit_export, methods=["POST"], name="admin:audit_export"
        ),
        Route(
            "/admin/audit/verify", admin.audit_verify, methods=["POST"], name="admin:audit_verify"
        ),
        # End of admin set-up.
        # The client's booking flow and manage pages (clinic/booking/pages/).
        Route("/book", booking.service_form, methods=["GET"], name="book:service"),
        Route("/book", booking.service_submit, methods=["POST"], name="book:service_submit"),
        Route("/book/health", booking.health_question, methods=["GET"], name="book:health"),
        Route(
            "/book/health",
            booking.health_question_submit,
            methods=["POST"],
            name="book:health_submit",
        ),
        Route("/book/health/form", booking.health_form, methods=["GET"], name="book:health_form"),
        Route(
            "/book/health/form",
            booking.health_form_submit,
            methods=["POST"],
            name="book:health_form_submit",
        ),
        Route("/book/health/plan", booking.health_plan, methods=["GET"], name="book:health_plan"),
        Route("/book/therapist", booking.therapist_form, methods=["GET"], name="book:therapist"),
        Route(
            "/book/therapist",
            booking.therapist_submit,
            methods=["POST"],
            name="book:therapist_submit",
        ),
        Route("/book/time", booking.time_form, methods=["GET"], name="book:time"),
        Route("/book/time", booking.time_submit, methods=["POST"], name="book:time_submit"),
        Route("/book/details", booking.details_form, methods=["GET"], name="book:details"),
        Route(
            "/book/details", booking.details_submit, methods=["POST"], name="book:details_submit"
        ),
        Route("/book/check", booking.check_page, methods=["GET"], name="book:check"),
        Route("/book/check", booking.check_submit, methods=["POST"], name="book:check_submit"),
        Route("/book/done/{token}", booking.done_page, methods=["GET"], name="book:done"),
        # Online payments (clinic/payments/web.py): the client's return from checkout, the
        # pay link of a fee, the demo checkout page, and Stripe's webhook.
        Route("/book/paid/{token}", payments.booking_paid, methods=["GET"], name="book:paid"),
        Route("/pay/{token}", payments.pay_link_page, methods=["GET"], name="pay:show"),
        Route("/pay/{token}", payments.pay_link_submit, methods=["POST"], name="pay:start"),
        Route("/pay/{token}/return", payments.pay_link_return, methods=["GET"], name="pay:return"),
        Route(
            "/pay/demo/{checkout_id}",
            payments.demo_checkout_page,
            methods=["GET"],
            name="pay:demo",
        ),
        Route(
            "/pay/demo/{checkout_id}",
            payments.demo_checkout_submit,
            methods=["POST"],
            name="pay:demo_submit",
        ),
        Route(
            "/payments/stripe/webhook",
            payments.stripe_webhook,
            methods=["POST"],
            name="payments:stripe_webhook",
        ),
        Route("/manage/{token}", booking.manage_page, methods=["GET"], name="manage:show"),
        Route(
            "/manage/{token}/time", booking.manage_time_form, methods=["GET"], name="manage:time"
        ),
        Route(
            "/manage/{token}/time",
            booking.manage_time_submit,
            methods=["POST"],
            name="manage:time_submit",
        ),
        Route(
            "/manage/{token}/time/confirm",
            booking.manage_confirm_form,
            methods=["GET"],
            name="manage:confirm",
        ),
        Route(
            "/manage/{token}/time/confirm",
            booking.manage_confirm_submit,
            methods=["POST"],
            name="manage:confirm_submit",
        ),
        Route(
            "/manage/{token}/cancel",
            booking.manage_cancel_form,
            methods=["GET"],
            name="manage:cancel",
        ),
        Route(
            "/manage/{token}/cancel",
            booking.manage_cancel_submit,
            methods=["POST"],
            name="manage:cancel_submit",
        ),
        Route(
            "/manage/{token}/reminders",
            booking.manage_reminders_submit,
            methods=["POST"],
            name="manage:reminders",
        ),
        Route("/manage/{token}/check", manage_check.manage_check_form, name="manage:check"),
        Route(
            "/manage/{token}/check",
            manage_check.manage_check_submit,
            methods=["POST"],
            name="manage:check_submit",
        ),
        Route(
            "/manage/{token}/intake",
            booking.manage_intake_form,
            methods=["GET"],
            name="manage:intake",
        ),
        Route(
            "/manage/{token}/intake",
            booking.manage_intake_submit,
            methods=["POST"],
            name="manage:intake_submit",
        ),
        Route(
            "/manage/{token}/intake/plan",
            booking.manage_intake_plan,
            methods=["GET"],
            name="manage:intake_plan",
        ),
        Route("/api/openapi.json", openapi.openapi_json, name="api:openapi"),
        Route("/api/v1/services", api.services, name="api:services"),
        Route("/api/v1/therapists", api.therapists, name="api:therapists"),
        Route("/api/v1/availability", api.availability, name="api:availability"),
        Route("/api/v1/intake-form", api_intakes.intake_form, name="api:intake_form"),
        Route("/api/v1/intakes", api_intakes.create_intake, methods=["POST"], name="api:intake"),
        Route("/api/v1/intakes/{token}", api_intakes.show_intake, name="api:intake_show"),
        Route("/api/v1/holds", api_bookings.create_hold, methods=["POST"], name="api:hold"),
        Route("/api/v1/bookings", api_bookings.create_booking, methods=["POST"], name="api:book"),
        Route("/api/v1/bookings/{token}", api_bookings.show_booking, name="api:booking"),
        Route(
            "/api/v1/bookings/{token}/reschedule",
            api_bookings.reschedule_booking,
            methods=["POST"],
            name="api:reschedule",
        ),
        Route(
            "/api/v1/bookings/{token}/cancel",
            api_bookings.cancel_booking,
            methods=["POST"],
            name="api:cancel",
        ),
        Mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static"),
    ]
