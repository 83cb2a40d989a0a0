"""Checking and normalising what people type into a contact or an account (pure): e-mail, phone (E.164,
with phonenumbers), tax ids (their checksum, with python-stdnum, for the countries it knows)."""

from __future__ import annotations

import re

import phonenumbers
from stdnum.exceptions import ValidationError as NumberInvalid
from stdnum.util import get_cc_module

from shared.contracts.answers import Rejected
from shared.text import words  # noqa: F401  (search tokens: customer names)

# Deliberately plain: one @, no spaces, a dot in the domain. Deliverability is not ours to judge.
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
# The tax id kind python-stdnum calls each country's company number by, where "vat" is not its name.
TAX_MODULES = {"ru": "inn", "ua": "edrpou", "us": "ein"}


def email(value: str) -> str:
    """Trimmed, the domain lower-cased (the local part is the mailbox's to interpret)."""
    value = value.strip()
    if not EMAIL.match(value):
        raise Rejected("invalid_argument", f"email: {value!r} is not an e-mail address")
    local, domain = value.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def phone(value: str, region: str | None) -> str:
    """E.164; a number without + needs the contact's region."""
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if value.strip().startswith("+") or region else " (start with + and the country code, or set region)"
        raise Rejected("invalid_argument", f"phone: {value!r} is not a phone number: {exc}{hint}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise Rejected("invalid_argument", f"phone: {value!r} is not a valid number for its country")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def tax_id(value: str, country: str | None) -> str:
    """Compact form; checked by its checksum where python-stdnum knows the country's tax ids."""
    module = get_cc_module(country.lower(), TAX_MODULES.get(country.lower(), "vat")) if country else None
    if module is None:
        compact = re.sub(r"[\s.\-/]", "", value).upper()
        if not compact.isalnum():
            raise Rejected("invalid_argument", f"tax_id: {value!r} has characters a tax id does not")
        return compact
    try:
        return module.validate(value)
    except NumberInvalid as exc:
        raise Rejected("invalid_argument", f"tax_id: {value!r} is not a valid {country} tax id: {exc}") from None
