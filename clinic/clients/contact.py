"""How a client's contact details must look, wherever they are typed (online booking,
the front desk). Says what is wrong in a sentence; never stores anything."""

from __future__ import annotations

PHONE_CHARACTERS = frozenset("0123456789 +-().")


def email_problem(email: str) -> str | None:
    address = email.strip()
    local, at, domain = address.partition("@")
    if not at or not local or "." not in domain or " " in address or len(address) > 254:
        return "Enter an email address in the correct format, like name@example.com"
    return None


def phone_problem(phone: str) -> str | None:
    digits = sum(character.isdigit() for character in phone)
    if digits < 7 or len(phone) > 40 or not set(phone) <= PHONE_CHARACTERS:
        return "Enter a phone number, like (215) 555-0123"
    return None
