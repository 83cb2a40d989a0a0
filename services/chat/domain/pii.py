"""Finding sensitive data in free text (C4), pure: card numbers (Luhn-valid, a known card prefix and length),
IBANs (checksum-valid), US social security numbers, e-mail addresses and phone numbers. Each finder returns
spans; masking.py decides which kinds a tenant masks and how.

Phone numbers use libphonenumber (phonenumberslite) in two passes, designed around its two traps
(shared/LIBRARIES.md): the default leniency misses `+ 1 (123) 456 7890` (no real US area code), and
Leniency.POSSIBLE also matches digits inside tracking and order numbers. So:
- international numbers (`+` or `00` and a country code) are taken at POSSIBLE leniency, as the customer
  clearly wrote a phone number (its length must fit the country);
- numbers in national format must be *valid* for one of the tenant's regions;
- either way the match must stand alone: not glued to letters or other digits (a tracking number's digits,
  `INV-2024-000123`), not a date, time, amount or IP address, and not right after an order/tracking/
  invoice label or `#`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from phonenumbers import Leniency, PhoneNumberMatcher
from stdnum import iban, luhn
from stdnum.us import ssn

Kind = Literal["card", "iban", "ssn", "email", "phone"]
KINDS: tuple[Kind, ...] = ("card", "iban", "ssn", "email", "phone")
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "LV", "CZ", "UA", "PT", "PL")


@dataclass(frozen=True, order=True)
class Found:
    start: int
    end: int
    kind: Kind


# --- e-mail ----------------------------------------------------------------------------------------------

NOT_DOMAINS = frozenset({"pdf", "png", "jpg", "jpeg", "gif", "txt", "csv", "doc", "docx", "xls", "xlsx", "heic",
                         "webp", "mp4", "mov"})  # file extensions that are no top-level domain (report@2024.pdf)
EMAIL = re.compile(r"(?<![\w.+%-])[\w][\w.+%-]*@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}(?![\w-])")


def emails(text: str) -> list[Found]:
    return [Found(m.start(), m.end(), "email") for m in EMAIL.finditer(text)
            if m.group().rpartition(".")[2].lower() not in NOT_DOMAINS]


# --- IBAN ------------------------------------------------------------------------------------------------

IBAN_START = re.compile(r"(?<![\w])[A-Za-z]{2}\d{2}(?=[ ]?[A-Za-z0-9])")
IBAN_GROUP = re.compile(r"[ ]?[A-Za-z0-9]{1,4}")


def ibans(text: str) -> list[Found]:
    """An IBAN written whole or in groups of four; the longest run of groups that passes the checksum
    (so a word after it is not taken in)."""
    found: list[Found] = []
    for start in IBAN_START.finditer(text):
        ends, position = [], start.end()
        while (group := IBAN_GROUP.match(text, position)) is not None and position - start.start() < 42:
            position = group.end()
            ends.append(position)
        for end in reversed(ends):
            if _standalone(text, start.start(), end) and iban.is_valid(text[start.start():end]):
                found.append(Found(start.start(), end, "iban"))
                break
    return found


# --- cards -----------------------------------------------------------------------------------------------

DIGIT_RUN = re.compile(r"(?<![\w+#/.,-])\d(?:[ -]?\d)+(?![\w])")
CARD_PREFIXES: tuple[tuple[str, str, tuple[int, ...]], ...] = (  # first digits (range), lengths
    ("4", "4", (13, 16, 19)),  # Visa
    ("51", "55", (16,)), ("2221", "2720", (16,)),  # Mastercard
    ("34", "34", (15,)), ("37", "37", (15,)),  # American Express
    ("6011", "6011", (16, 17, 18, 19)), ("644", "649", (16, 17, 18, 19)), ("65", "65", (16, 17, 18, 19)),  # Discover
    ("3528", "3589", (16, 17, 18, 19)),  # JCB
    ("300", "305", (14, 15, 16, 17, 18, 19)), ("36", "36", (14, 15, 16, 17, 18, 19)),  # Diners
    ("38", "39", (16, 17, 18, 19)),
    ("62", "62", (16, 17, 18, 19)),  # UnionPay
    ("50", "50", (12, 13, 14, 15, 16, 17, 18, 19)), ("56", "69", (12, 13, 14, 15, 16, 17, 18, 19)),  # Maestro
)


def is_card_number(digits: str) -> bool:
    """Luhn-valid, of a length its card scheme issues, starting with a scheme's prefix."""
    if not 12 <= len(digits) <= 19 or not luhn.is_valid(digits):
        return False
    return any(low <= digits[:len(low)] <= high and len(digits) in lengths for low, high, lengths in CARD_PREFIXES)


def cards(text: str) -> list[Found]:
    """A whole run of digits (single spaces or dashes between groups allowed) that is a card number; a
    longer run (a tracking number) is not searched for cards inside it."""
    return [Found(m.start(), m.end(), "card") for m in DIGIT_RUN.finditer(text)
            if not _continues(text, m.end()) and is_card_number(re.sub(r"\D", "", m.group()))]


# --- social security numbers (US) ------------------------------------------------------------------------

SSN = re.compile(r"(?<![\w+#/.,-])\d{3}([- ])\d{2}\1\d{4}(?![\w])")


def ssns(text: str) -> list[Found]:
    """Written 123-45-6789 or 123 45 6789 and valid (no 000/666/9xx area, 00 group, 0000 serial, nor the
    numbers known to be published). Nine bare digits are not taken: too many other numbers look so."""
    return [Found(m.start(), m.end(), "ssn") for m in SSN.finditer(text)
            if not _continues(text, m.end()) and ssn.is_valid(m.group().replace(" ", "-"))]


# --- phone numbers ---------------------------------------------------------------------------------------

LABEL = re.compile(r"(?i)(?:#|№|\b(?:order|orders|tracking|track|invoice|inv|ref\w*|parcel|shipment|ticket|"
                   r"case|booking|account|acct|iban|nr|no|n°|nº|num|id|sku|serial|po|bestellung|commande|"
                   r"zamówienie|заказ|замовлення|rēķins|pasūtījums|objednávka|encomenda)\.?)\s*[:#-]?\s*$")
# A national number a few words after a non-phone label ("my order number is 29123456", "Kundennummer:
# 030901820", "the code 601 123 456") is that thing, unless a phone word is nearer ("order question, call").
LABEL_NEAR = re.compile(r"(?i)\b(?:order|tracking|invoice|ticket|case|booking|account|customer|client|contract|"
                        r"policy|code|pin|kunden\w*|\w*nummer|ref\w*)\b[^\d\n]{0,25}$")
PHONE_WORD = re.compile(r"(?i)\b(?:phone|tel|telephone|mobile|mob|cell|call|ring|whatsapp|viber|telegram|sms|"
                        r"text|reach|fax|tālr\w*|telefon\w*|handy|телефон\w*|тел|моб\w*)\b")
DATE_OR_TIME = re.compile(r"^(?:\d{1,4}([./-])\d{1,2}\1\d{2,4}(?:[ T]\d{1,2}(?::\d{2}){0,2})?|\d{1,2}:\d{2}.*)$")
IP_ADDRESS = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
CURRENCY_BEFORE = re.compile(r"(?:[$€£¥₴₽]|\b(?:EUR|USD|GBP|PLN|CZK|UAH|CHF)|zł|Kč)\s*$", re.I)
CURRENCY_AFTER = re.compile(r"^\s*(?:[$€£¥₴₽]|(?:EUR|USD|GBP|PLN|CZK|UAH|CHF|zł|zl|Kč|грн|euro?s?)\b)", re.I)
MIN_PHONE_DIGITS = 8
S10_ITEM = re.compile(r"\b[A-Z]{2} ?\d{3} ?\d{3} ?\d{3} ?[A-Z]{2}\b")  # UPU S10 postal item ids: LX 123 456 789 DE


def phones(text: str, regions: Iterable[str] = DEFAULT_PHONE_REGIONS) -> list[Found]:
    """International numbers at POSSIBLE leniency, national ones valid in one of `regions`; each standing alone."""
    if sum(ch.isdigit() for ch in text) < MIN_PHONE_DIGITS:
        return []
    found: set[Found] = set()
    postal = [m.span() for m in S10_ITEM.finditer(text)]
    passes = [("ZZ", Leniency.POSSIBLE), *((region, Leniency.VALID) for region in regions)]
    for region, leniency in passes:
        for match in PhoneNumberMatcher(text, region, leniency=leniency):
            inside_postal_id = any(a <= match.start and match.end <= b for a, b in postal)
            if not inside_postal_id and _phone_stands_alone(text, match.start, match.end,
                                                            international=region == "ZZ"):
                found.add(Found(match.start, match.end, "phone"))
    return _outermost(found)


def _phone_stands_alone(text: str, start: int, end: int, *, international: bool) -> bool:
    raw = text[start:end]
    if sum(ch.isdigit() for ch in raw) < MIN_PHONE_DIGITS or not _standalone(text, start, end):
        return False
    if international and not raw.lstrip("( ").startswith("+"):
        return False
    before, after = text[:start], text[end:]
    if re.search(r"[\w#/-]$|\d[.,]$", before) or re.search(r"\d[ ]+$", before) or _continues(text, end):
        return False  # glued to something: part of a longer code or number
    if DATE_OR_TIME.match(raw) or IP_ADDRESS.match(raw) or LABEL.search(before):
        return False
    if not international and LABEL_NEAR.search(before) and not PHONE_WORD.search(before[-40:]):
        return False
    return not (CURRENCY_BEFORE.search(before) or CURRENCY_AFTER.match(after))


# --- shared rules ----------------------------------------------------------------------------------------

def _standalone(text: str, start: int, end: int) -> bool:
    """Not glued to a letter or digit on either side."""
    return not (start > 0 and text[start - 1].isalnum()) and not (end < len(text) and text[end].isalnum())


def _continues(text: str, end: int) -> bool:
    """The number goes on past `end`: more digits after a space, a separator or a decimal mark."""
    return re.match(r"(?:[ ]+|[-/.,:])\d", text[end:]) is not None


def _outermost(spans: Iterable[Found]) -> list[Found]:
    """Overlapping spans merged into the widest one (the same number found from two regions)."""
    kept: list[Found] = []
    for span in sorted(spans, key=lambda f: (f.start, -f.end)):
        if kept and span.start < kept[-1].end:
            if span.end > kept[-1].end:
                kept[-1] = Found(kept[-1].start, span.end, kept[-1].kind)
            continue
        kept.append(span)
    return kept


def find_all(text: str, *, phone_regions: Iterable[str] = DEFAULT_PHONE_REGIONS) -> list[Found]:
    """Every sensitive span, each character in at most one: e-mails first (they hold digits), then IBANs,
    cards, SSNs, and phone numbers in what is left."""
    taken: list[Found] = []
    finders = (emails, ibans, cards, ssns, lambda t: phones(t, phone_regions))
    for finder in finders:
        for span in finder(text):
            if not any(span.start < other.end and other.start < span.end for other in taken):
                taken.append(span)
    return sorted(taken)


__all__ = ["KINDS", "DEFAULT_PHONE_REGIONS", "Found", "Kind", "find_all", "is_card_number"]
