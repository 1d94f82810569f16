"""Domain errors: each names a situation and carries an HTTP status and a plain sentence
that the page or the JSON problem body shows as it is."""

from __future__ import annotations

from typing import Any


class ClinicError(Exception):
    status_code: int = 400
    title: str = "Something needs attention"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def problem_extra(self) -> dict[str, Any]:
        """Extra members of the JSON problem body (field errors, alternatives)."""
        return {}


class NotFound(ClinicError):
    status_code = 404
    title = "Not found"


class PermissionDenied(ClinicError):
    status_code = 403
    title = "Not allowed"


class Conflict(ClinicError):
    status_code = 409
    title = "Conflict"


class InvalidInput(ClinicError):
    status_code = 422
    title = "Check your answers"

    def __init__(self, message: str, *, field_errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.field_errors = field_errors or {}

    def problem_extra(self) -> dict[str, Any]:
        return {"errors": self.field_errors}
