"""The whole URL map. Route names are `area:action`; templates build links with url_for."""

from __future__ import annotations

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from clinic.api import openapi
from clinic.api import routes as api
from clinic.areas import admin, clinical, desk, therapist
from clinic.auth import routes as auth
from clinic.settings import PROJECT_ROOT
from clinic.web import pages


def build_routes() -> list[Route | Mount]:
    return [
        Route("/", pages.home, name="public:home"),
        Route("/healthz", pages.healthz, name="health"),
        Route("/login", auth.login_form, methods=["GET"], name="auth:login"),
        Route("/login", auth.login, methods=["POST"], name="auth:login_submit"),
        Route("/logout", auth.logout, methods=["POST"], name="auth:logout"),
        Route("/desk/", desk.today, name="desk:today"),
        Route("/therapist/", therapist.today, name="therapist:today"),
        Route("/clinical/", clinical.review, name="clinical:review"),
        Route("/admin/", admin.users, name="admin:users"),
        Route("/admin/users/new", admin.new_user_form, methods=["GET"], name="admin:user_new"),
        Route("/admin/users/new", admin.new_user, methods=["POST"], name="admin:user_create"),
        Route("/admin/users/{user_id:int}", admin.user_detail, methods=["GET"], name="admin:user"),
        Route(
            "/admin/users/{user_id:int}",
            admin.change_user,
            methods=["POST"],
            name="admin:user_save",
        ),
        Route("/api/openapi.json", openapi.openapi_json, name="api:openapi"),
        Route("/api/v1/services", api.services, name="api:services"),
        Route("/api/v1/therapists", api.therapists, name="api:therapists"),
        Route("/api/v1/availability", api.availability, name="api:availability"),
        Mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static"),
    ]
