"""Search tokens every service makes the same way (customer's names, cases' titles): case- and accent-free
words, so that an index of them answers prefix and whole-word queries."""

from __future__ import annotations

import re
import unicodedata


def words(text: str) -> list[str]:
    """Search tokens: case- and accent-insensitive words (Ķīsis -> kisis, O'Neil -> o, neil)."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return [w for w in re.split(r"[^\w]+", plain) if w]


def prefix_query(tokens: list[str], field: str = "words") -> dict:
    """A MongoDB condition: every whole word but the last, and a word starting with the last one."""
    *whole, last = tokens
    return {"$and": [*({field: w} for w in whole), {field: {"$elemMatch": {"$gte": last, "$lt": last + "\U0010ffff"}}}]}
