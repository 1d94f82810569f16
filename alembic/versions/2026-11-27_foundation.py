"""Foundation schema, with the appointment overlap guards.

Staff, therapists and credentials, locations, rooms, services, hours, clients and
consents, appointments, the audit trail and clinic options.

The overlap guards are hand-written (Alembic's autogenerate cannot reflect them):
exclusion constraints on PostgreSQL, a trigger on SQLite. Their status list is
clinic.booking.statuses.BLOCKING_STATUSES as it stood at this revision.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 11:48:33.470065
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic.db import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


BLOCKING = "('held', 'pending_clearance', 'confirmed', 'checked_in', 'completed')"

PG_GUARDS = (
    "ALTER TABLE appointment ADD CONSTRAINT ex_appointment_therapist_overlap"
    " EXCLUDE USING gist (therapist_id WITH =,"
    " tstzrange(blocked_from, blocked_until, '[)') WITH &&)"
    f" WHERE (status IN {BLOCKING})",
    "ALTER TABLE appointment ADD CONSTRAINT ex_appointment_room_overlap"
    " EXCLUDE USING gist (room_id WITH =,"
    " tstzrange(blocked_from, blocked_until, '[)') WITH &&)"
    f" WHERE (room_id IS NOT NULL AND status IN {BLOCKING})",
)

# SQLite has one writer at a time, so a BEFORE trigger that looks for an overlapping
# blocking row cannot race. Batch migrations recreate the table and drop triggers:
# any later batch operation on appointment must call create_sqlite_guards() again.
SQLITE_OVERLAP = f"""
SELECT RAISE(ABORT, 'appointment_overlap')
WHERE EXISTS (
    SELECT 1 FROM appointment AS other
    WHERE other.status IN {BLOCKING}
      AND other.id IS NOT NEW.id
      AND other.blocked_from < NEW.blocked_until
      AND NEW.blocked_from < other.blocked_until
      AND (other.therapist_id = NEW.therapist_id
           OR (NEW.room_id IS NOT NULL AND other.room_id = NEW.room_id))
);
"""


def create_sqlite_guards() -> None:
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER appointment_no_overlap_{event.lower()} "
            f"BEFORE {event} ON appointment "
            f"WHEN NEW.status IN {BLOCKING} "
            f"BEGIN {SQLITE_OVERLAP} END"
        )


def drop_sqlite_guards() -> None:
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS appointment_no_overlap_{event}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("email", name=op.f("uq_app_user_email")),
    )
    op.create_table(
        "client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("emergency_contact_name", sa.String(length=200), nullable=False),
        sa.Column("emergency_contact_phone", sa.String(length=40), nullable=False),
        sa.Column("preferred_name", sa.String(length=100), nullable=False),
        sa.Column("pronouns", sa.String(length=40), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client")),
        sa.UniqueConstraint("email", name=op.f("uq_client_email")),
    )
    op.create_table(
        "clinic_option",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_clinic_option")),
    )
    op.create_table(
        "location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location")),
    )
    op.create_table(
        "service",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("public_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("price_minor", sa.Integer(), nullable=False),
        sa.Column("buffer_before_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_after_minutes", sa.Integer(), nullable=False),
        sa.Column("min_oncology_level", sa.SmallInteger(), nullable=True),
        sa.Column("needs_lymphedema", sa.Boolean(), nullable=False),
        sa.Column("room_attributes", sa.JSON(), nullable=False),
        sa.Column("bookable_online", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("display_order", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "buffer_before_minutes >= 0 AND buffer_after_minutes >= 0",
            name=op.f("ck_service_buffers_not_negative"),
        ),
        sa.CheckConstraint("duration_minutes > 0", name=op.f("ck_service_duration_positive")),
        sa.CheckConstraint(
            "min_oncology_level IS NULL OR min_oncology_level BETWEEN 0 AND 4",
            name=op.f("ck_service_oncology_level_range"),
        ),
        sa.CheckConstraint("price_minor >= 0", name=op.f("ck_service_price_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service")),
        sa.UniqueConstraint("name", name=op.f("uq_service_name")),
    )
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject_type", sa.String(length=50), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["app_user.id"], name=op.f("fk_audit_entry_actor_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_action"), ["action"], unique=False)
        batch_op.create_index(
            "ix_audit_entry_subject", ["subject_type", "subject_id"], unique=False
        )

    op.create_table(
        "closure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_closure_location_id_location")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closure")),
        sa.UniqueConstraint("location_id", "on_date", name=op.f("uq_closure_location_id")),
    )
    op.create_table(
        "consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "cancellation_terms",
                "card_on_file",
                "privacy_notice",
                "treatment",
                "contact_oncology_team",
                name="consent_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("terms_version", sa.String(length=40), nullable=False),
        sa.Column("given_at", UTCDateTime(), nullable=False),
        sa.Column("withdrawn_at", UTCDateTime(), nullable=True),
        sa.Column("counterparty", sa.String(length=200), nullable=False),
        sa.Column("recorded_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
            name=op.f("fk_consent_client_id_client"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_user_id"],
            ["app_user.id"],
            name=op.f("fk_consent_recorded_by_user_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent")),
    )
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_client_id"), ["client_id"], unique=False)

    op.create_table(
        "room",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_room_location_id_location")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room")),
        sa.UniqueConstraint("location_id", "name", name=op.f("uq_room_location_id")),
    )
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_location_id"), ["location_id"], unique=False)

    op.create_table(
        "therapist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("bio", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("oncology_sessions_elsewhere", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "oncology_sessions_elsewhere >= 0", name=op.f("ck_therapist_sessions_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_therapist_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_therapist")),
        sa.UniqueConstraint("user_id", name=op.f("uq_therapist_user_id")),
    )
    op.create_table(
        "user_role",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "frontdesk",
                "therapist",
                "clinical_lead",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_user_role_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_user_role")),
    )
    op.create_table(
        "appointment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("booked_by_client_id", sa.Integer(), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("blocked_from", UTCDateTime(), nullable=False),
        sa.Column("blocked_until", UTCDateTime(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "held",
                "pending_clearance",
                "confirmed",
                "checked_in",
                "completed",
                "cancelled",
                "no_show",
                "expired",
                name="appointment_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("price_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "online",
                "desk",
                "api",
                "phone",
                name="appointment_source",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "blocked_from <= starts_at AND blocked_until >= ends_at",
            name=op.f("ck_appointment_blocked_covers_visit"),
        ),
        sa.CheckConstraint("price_minor >= 0", name=op.f("ck_appointment_price_not_negative")),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_appointment_starts_before_end")),
        sa.ForeignKeyConstraint(
            ["booked_by_client_id"],
            ["client.id"],
            name=op.f("fk_appointment_booked_by_client_id_client"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["client.id"], name=op.f("fk_appointment_client_id_client")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["app_user.id"],
            name=op.f("fk_appointment_created_by_user_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_appointment_location_id_location")
        ),
        sa.ForeignKeyConstraint(["room_id"], ["room.id"], name=op.f("fk_appointment_room_id_room")),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_appointment_service_id_service")
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"], ["therapist.id"], name=op.f("fk_appointment_therapist_id_therapist")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment")),
    )
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appointment_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            "ix_appointment_room_blocked", ["room_id", "blocked_until"], unique=False
        )
        batch_op.create_index(
            "ix_appointment_therapist_blocked", ["therapist_id", "blocked_until"], unique=False
        )
        batch_op.create_index(
            "uq_appointment_therapist_start_active",
            ["therapist_id", "starts_at"],
            unique=True,
            sqlite_where=sa.text(
                "status IN ('held', 'pending_clearance', 'confirmed', 'checked_in', 'completed')"
            ),
            postgresql_where=sa.text(
                "status IN ('held', 'pending_clearance', 'confirmed', 'checked_in', 'completed')"
            ),
        )

    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_GUARDS:
            op.execute(statement)
    else:
        create_sqlite_guards()

    op.create_table(
        "credential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "massage_licence",
                "liability_insurance",
                "oncology_foundational",
                "oncology_ce",
                "oncology_supervised_hours",
                "oncology_specialty_certificate",
                "hospital_credentialing",
                "oncology_educator",
                "lymphedema_mld_cdt",
                "other",
                name="credential_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("jurisdiction", sa.String(length=100), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=True),
        sa.Column("supervised_hands_on", sa.Boolean(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("verified_by_user_id", sa.Integer(), nullable=True),
        sa.Column("verified_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "expires_on IS NULL OR issued_on IS NULL OR issued_on <= expires_on",
            name=op.f("ck_credential_issued_before_expiry"),
        ),
        sa.CheckConstraint(
            "hours IS NULL OR hours >= 0", name=op.f("ck_credential_hours_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapist.id"],
            name=op.f("fk_credential_therapist_id_therapist"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["verified_by_user_id"],
            ["app_user.id"],
            name=op.f("fk_credential_verified_by_user_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential")),
    )
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credential_therapist_id"), ["therapist_id"], unique=False
        )

    op.create_table(
        "service_therapist",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service.id"],
            name=op.f("fk_service_therapist_service_id_service"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapist.id"],
            name=op.f("fk_service_therapist_therapist_id_therapist"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service_id", "therapist_id", name=op.f("pk_service_therapist")),
    )
    op.create_table(
        "therapist_location",
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["location.id"],
            name=op.f("fk_therapist_location_location_id_location"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapist.id"],
            name=op.f("fk_therapist_location_therapist_id_therapist"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("therapist_id", "location_id", name=op.f("pk_therapist_location")),
    )
    op.create_table(
        "time_off",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_time_off_starts_before_end")),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapist.id"],
            name=op.f("fk_time_off_therapist_id_therapist"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_off")),
    )
    with op.batch_alter_table("time_off", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_time_off_therapist_id"), ["therapist_id"], unique=False
        )

    op.create_table(
        "weekly_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.CheckConstraint("start_time < end_time", name=op.f("ck_weekly_hours_starts_before_end")),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_weekly_hours_weekday_range")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_weekly_hours_location_id_location")
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapist.id"],
            name=op.f("fk_weekly_hours_therapist_id_therapist"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weekly_hours")),
    )
    with op.batch_alter_table("weekly_hours", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_weekly_hours_therapist_id"), ["therapist_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("weekly_hours", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_weekly_hours_therapist_id"))

    op.drop_table("weekly_hours")
    with op.batch_alter_table("time_off", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_time_off_therapist_id"))

    op.drop_table("time_off")
    op.drop_table("therapist_location")
    op.drop_table("service_therapist")
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credential_therapist_id"))

    op.drop_table("credential")
    if op.get_bind().dialect.name == "sqlite":
        drop_sqlite_guards()
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_appointment_therapist_start_active",
            sqlite_where=sa.text(
                "status IN ('held', 'pending_clearance', 'confirmed', 'checked_in', 'completed')"
            ),
            postgresql_where=sa.text(
                "status IN ('held', 'pending_clearance', 'confirmed', 'checked_in', 'completed')"
            ),
        )
        batch_op.drop_index("ix_appointment_therapist_blocked")
        batch_op.drop_index("ix_appointment_room_blocked")
        batch_op.drop_index(batch_op.f("ix_appointment_client_id"))

    op.drop_table("appointment")
    op.drop_table("user_role")
    op.drop_table("therapist")
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_location_id"))

    op.drop_table("room")
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_client_id"))

    op.drop_table("consent")
    op.drop_table("closure")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_subject")
        batch_op.drop_index(batch_op.f("ix_audit_entry_action"))

    op.drop_table("audit_entry")
    op.drop_table("service")
    op.drop_table("location")
    op.drop_table("clinic_option")
    op.drop_table("client")
    op.drop_table("app_user")
