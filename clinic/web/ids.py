"""Row ids in paths and queries: 1 to 999,999,999.

A longer number is no id of ours, and PostgreSQL would refuse it as an integer parameter
(a DataError, so a 500): paths use the `{name:id}` convertor, which makes such a number
match no route (404), and query parameters use `parse_id`.
"""

from __future__ import annotations

import re

from starlette.convertors import Convertor, register_url_convertor

ID_PATTERN = "[1-9][0-9]{0,8}"
# ASCII digits only: str.isdigit() also says yes to "²", which int() refuses.
_ID = re.compile(ID_PATTERN)
MAX_ID = 999_999_999


class IdConvertor(Convertor[int]):
    regex = ID_PATTERN

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


def register() -> None:
    register_url_convertor("id", IdConvertor())


register()


def parse_id(raw: str) -> int | None:
    """The id `raw` names, or None when it is not one."""
    return int(raw) if _ID.fullmatch(raw) else None
