"""Column helpers shared by every domain's models."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum


def str_enum(enum_cls: type[StrEnum], name: str) -> Enum:
    """A portable enum column: a VARCHAR plus a CHECK constraint named `name`.

    Native PostgreSQL enums need their own migrations for every new value; a CHECK
    constraint is one ALTER away and behaves the same on SQLite.
    """
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
