"""Domain errors: each names a situation and carries an HTTP status and a plain sentence
that the page or the JSON problem body shows as it is."""

from __future__ import annotations


class ClinicError(Exception):
    status_code: int = 400
    title: str = "Something needs attention"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ClinicError):
    status_code = 404
    title = "Not found"


class PermissionDenied(ClinicError):
    status_code = 403
    title = "Not allowed"


class Conflict(ClinicError):
    status_code = 409
    title = "Conflict"


class SlotTaken(Conflict):
    title = "That time was just taken"

    def __init__(self, message: str = "That time has just been booked. Choose another.") -> None:
        super().__init__(message)


class InvalidInput(ClinicError):
    status_code = 422
    title = "Check your answers"

    def __init__(self, message: str, *, field_errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.field_errors = field_errors or {}
