"""The API's response shapes. The OpenAPI document is generated from these models, and
the tests check every response against it; endpoints build plain dicts for speed."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Money(BaseModel):
    amount: int = Field(description="In minor units (cents for usd).", ge=0)
    currency: str = Field(description="ISO 4217 code, lower case.", examples=["usd"])


class ServiceOut(BaseModel):
    id: int
    name: str
    public_name: str = Field(description="The neutral name used in emails and calendars.")
    description: str
    duration_minutes: int
    price: Money
    min_oncology_level: int | None = Field(
        description="Minimum oncology training level of the therapist (0-4), or null."
    )
    lymphedema_needed: bool = Field(description="Only lymphedema-trained therapists.")


class ServiceList(BaseModel):
    services: list[ServiceOut]


class TherapistOut(BaseModel):
    id: int
    display_name: str
    oncology_level: int | None = Field(
        description="Oncology training level today (0-4); null when not bookable today."
    )
    lymphedema: bool
    service_ids: list[int]


class TherapistList(BaseModel):
    therapists: list[TherapistOut]


class SlotOut(BaseModel):
    start: str = Field(
        description="ISO 8601 with the location's offset.",
        json_schema_extra={"format": "date-time"},
        examples=["2026-12-01T09:00:00-05:00"],
    )
    end: str = Field(json_schema_extra={"format": "date-time"})
    therapist_id: int
    room_id: int | None


class Availability(BaseModel):
    timezone: str = Field(description="The location's IANA zone.", examples=["America/New_York"])
    slots: list[SlotOut]


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = Field(description="A sentence a person can act on.")
    errors: dict[str, str] | None = Field(
        default=None, description="Per-parameter messages, when input was invalid."
    )
    alternatives: list[SlotOut] | None = Field(
        default=None, description="Other free times that day, when the time was just taken."
    )


class HoldOut(BaseModel):
    hold_token: str = Field(description="Turns the hold into a booking; keep it secret.")
    expires_at: str = Field(json_schema_extra={"format": "date-time"})
    service_id: int
    therapist_id: int
    room_id: int | None
    start: str = Field(json_schema_extra={"format": "date-time"})
    end: str = Field(json_schema_extra={"format": "date-time"})


class BookedOut(BaseModel):
    id: int
    status: str = Field(examples=["confirmed"])
    manage_token: str = Field(
        description="The client's credential for this booking: shown once, store it safely."
    )
    start: str = Field(json_schema_extra={"format": "date-time"})
    end: str = Field(json_schema_extra={"format": "date-time"})
    therapist_id: int
    room_id: int | None
    intake: str = Field(
        description="complete: planned from a signed intake; missing: booked without one.",
        examples=["complete"],
    )
    intake_url: str | None = Field(
        description="Where the client fills in their health form when it is missing."
    )


class NamedService(BaseModel):
    id: int
    name: str
    duration_minutes: int


class NamedTherapist(BaseModel):
    id: int
    display_name: str


class Place(BaseModel):
    name: str
    address: str
    phone: str


class CancellationOut(BaseModel):
    free_until: str = Field(json_schema_extra={"format": "date-time"})
    fee_if_cancelled_now: Money


class BookingOut(BaseModel):
    id: int
    status: str
    start: str = Field(json_schema_extra={"format": "date-time"})
    end: str = Field(json_schema_extra={"format": "date-time"})
    timezone: str
    service: NamedService
    therapist: NamedTherapist
    location: Place
    price: Money
    fee: Money = Field(description="The fee charged when it was cancelled or missed.")
    cancellation: CancellationOut
    can_change: bool


class ClientPlan(BaseModel):
    """The part of a care plan a client may see, in plain words."""

    can_book: bool
    booking: str = Field(description="Whether and how the client can book now.")
    adaptations: list[str] = Field(description="What the therapist will adapt.")
    therapists: str | None = Field(description="Which therapists will be offered.")
    clearance: str = Field(examples=["none", "advised", "required"])
    clearance_message: str | None


class FormVersion(BaseModel):
    version: str
    hash: str = Field(description="sha256 of the form definition the answers were given to.")


class IntakeSigned(BaseModel):
    intake_token: str = Field(
        description="The client's key to their answers; pass it to availability, holds and"
        " bookings. Shown once: keep it secret."
    )
    form: FormVersion
    plan: ClientPlan


class ReadableItem(BaseModel):
    label: str
    text: str


class ReadableSection(BaseModel):
    title: str
    items: list[ReadableItem]


class IntakeOut(BaseModel):
    form: FormVersion
    signed_by: str
    signed_at: str = Field(json_schema_extra={"format": "date-time"})
    answers: dict[str, object] = Field(description="Answers by question id, as given.")
    readable: list[ReadableSection]
    plan: ClientPlan
