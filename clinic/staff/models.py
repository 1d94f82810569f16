"""Therapists and the credentials from which their bookability and oncology level follow."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from clinic.db import Base, UTCDateTime
from clinic.models_base import str_enum

if TYPE_CHECKING:
    from clinic.staff.credentials import CredentialFacts


class CredentialKind(StrEnum):
    MASSAGE_LICENCE = "massage_licence"
    LIABILITY_INSURANCE = "liability_insurance"
    ONCOLOGY_FOUNDATIONAL = "oncology_foundational"
    ONCOLOGY_CE = "oncology_ce"
    ONCOLOGY_SUPERVISED_HOURS = "oncology_supervised_hours"
    ONCOLOGY_SPECIALTY_CERTIFICATE = "oncology_specialty_certificate"
    HOSPITAL_CREDENTIALING = "hospital_credentialing"
    ONCOLOGY_EDUCATOR = "oncology_educator"
    LYMPHEDEMA_MLD_CDT = "lymphedema_mld_cdt"
    OTHER = "other"


def _after_the_last(context: DefaultExecutionContext) -> int:
    """A new therapist goes last, whichever path adds the row (the admin form, the demo,
    tests). Rows inserted together get the same number, so their order falls to their
    names, alike on both databases."""
    highest = context.connection.scalar(select(func.coalesce(func.max(Therapist.display_order), 0)))
    return int(highest or 0) + 10


therapist_location = Table(
    "therapist_location",
    Base.metadata,
    Column("therapist_id", ForeignKey("therapist.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", ForeignKey("location.id", ondelete="CASCADE"), primary_key=True),
)


class Therapist(Base):
    __tablename__ = "therapist"
    __table_args__ = (
        CheckConstraint("oncology_sessions_elsewhere >= 0", name="sessions_not_negative"),
        CheckConstraint("oncology_sessions_here >= 0", name="sessions_here_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id"), unique=True, nullable=True
    )
    display_name: Mapped[str] = mapped_column(String(200))
    bio: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Completed oncology sessions done before joining this clinic, counted towards
    # level 2 beside the sessions completed here.
    oncology_sessions_elsewhere: Mapped[int] = mapped_column(Integer, default=0)
    # Completed oncology sessions here, kept by the transition to completed (and back),
    # so that deriving a level never counts through years of history.
    oncology_sessions_here: Mapped[int] = mapped_column(Integer, default=0)
    # Where online booking and the desk's columns place them (lowest first; ties by name).
    display_order: Mapped[int] = mapped_column(Integer, default=_after_the_last)

    @property
    def oncology_sessions(self) -> int:
        return self.oncology_sessions_elsewhere + self.oncology_sessions_here


class Credential(Base):
    __tablename__ = "credential"
    __table_args__ = (
        CheckConstraint("hours IS NULL OR hours >= 0", name="hours_not_negative"),
        CheckConstraint(
            "expires_on IS NULL OR issued_on IS NULL OR issued_on <= expires_on",
            name="issued_before_expiry",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapist.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[CredentialKind] = mapped_column(str_enum(CredentialKind, "credential_kind"))
    title: Mapped[str] = mapped_column(String(200), default="")
    issuer: Mapped[str] = mapped_column(String(200), default="")
    number: Mapped[str] = mapped_column(String(100), default="")
    jurisdiction: Mapped[str] = mapped_column(String(100), default="")
    hours: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Foundational oncology courses count only with live supervised hands-on work.
    supervised_hands_on: Mapped[bool] = mapped_column(Boolean, default=False)
    issued_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    verified_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id"), nullable=True
    )
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def facts(self) -> CredentialFacts:
        """The plain facts the qualification rules read (clinic.staff.credentials)."""
        from clinic.staff.credentials import CredentialFacts

        return CredentialFacts(
            kind=self.kind,
            verified=self.verified_at is not None,
            issued_on=self.issued_on,
            expires_on=self.expires_on,
            hours=self.hours,
            supervised_hands_on=self.supervised_hands_on,
        )


class CredentialExpiryWarning(Base):
    """An expiry warning emailed to the admins: one row per credential, expiry date and
    threshold (days before expiry), so that no warning is ever sent twice. A new expiry
    date (the same credential corrected) starts its warnings afresh."""

    __tablename__ = "credential_expiry_warning"
    __table_args__ = (
        UniqueConstraint("credential_id", "expires_on", "threshold_days"),
        CheckConstraint("threshold_days >= 0", name="threshold_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("credential.id", ondelete="CASCADE"))
    expires_on: Mapped[date] = mapped_column(Date)
    threshold_days: Mapped[int] = mapped_column(Integer)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
