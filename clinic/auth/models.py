"""Staff accounts and their roles. A person may hold several roles at once
(a clinic owner is often admin and therapist)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.clock import now_utc
from clinic.db import Base, UTCDateTime
from clinic.models_base import str_enum


class Role(StrEnum):
    ADMIN = "admin"
    FRONTDESK = "frontdesk"
    THERAPIST = "therapist"
    CLINICAL_LEAD = "clinical_lead"


class DeskDensity(StrEnum):
    """How tall the front desk's day grid draws a quarter hour, chosen per member of staff."""

    COMFORTABLE = "comfortable"
    COMPACT = "compact"


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    # The front desk's grid rows; None until they choose (comfortable).
    desk_density: Mapped[DeskDensity | None] = mapped_column(
        str_enum(DeskDensity, "desk_density"), nullable=True
    )
    # The second factor (clinic/auth/second_factor.py). Secrets are sealed with a key
    # derived from the app's secret key (clinic/auth/secret_box.py), never stored plain.
    # In effect only once confirmed with a code; a set-up in progress keeps its own
    # secret until it is confirmed or runs out, so a working one is not lost meanwhile.
    totp_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The newest 30-second time step whose code was accepted: never accept it again.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    totp_pending_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    totp_pending_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.role_rows)

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    @property
    def has_second_factor(self) -> bool:
        return self.totp_confirmed_at is not None and self.totp_secret is not None


class UserRole(Base):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_rows", lazy="raise")


class StaffSession(Base):
    """A signed-in staff member's session. The cookie holds a random token; only its
    SHA-256 is stored, so a copy of the database cannot be replayed as a cookie."""

    __tablename__ = "staff_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Only user-initiated requests move this, at most once a minute.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class SignInThrottle(Base):
    """Failed sign-ins per account ("account:<email>") and per address ("ip:<address>")."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RecoveryCode(Base):
    """A one-time code that stands in for the second factor. Only a keyed hash is kept
    (clinic/auth/second_factor.py says why a fast one suffices)."""

    __tablename__ = "recovery_code"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SecondFactorChallenge(Base):
    """A sign-in halfway: the password was right, the code is still owed. It grants
    nothing by itself (the session middleware never reads it), lives a few minutes and is
    used once. Its cookie holds a random token; only the token's SHA-256 is stored."""

    __tablename__ = "second_factor_challenge"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
