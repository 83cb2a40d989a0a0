"""History search (C6) over masked message text: the words a message is indexed by, what a query asks for,
how well a message matches it, and the snippet that shows why. Pure: the read API and its queries
(adapters/masking.py) use these, the unit tests check them directly.

A message is indexed by its words (shared/text.py: case- and accent-free), stored beside its masked text as
`terms`; originals are never indexed, so a card number or an e-mail address finds nothing. A query's words
must all appear: every word but the last whole, the last as a prefix (as one types)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.text import words

MAX_QUERY_WORDS = 8
SNIPPET_CHARS = 160  # a snippet shows about this much of a long message, around its first match
_CONTEXT_BEFORE = 40  # characters kept before the first match in a long message's snippet
_PREFIX_WEIGHT = 0.6  # a word that only starts with the typed prefix counts less than the word itself
_K1, _B, _AVERAGE_WORDS = 1.2, 0.75, 12.0  # BM25's term-frequency saturation and length normalisation
_TOKEN = re.compile(r"\w+")


def terms(text: str) -> list[str]:
    """The words a message's masked text is indexed by (each once, sorted)."""
    return sorted(set(words(text)))


@dataclass(frozen=True)
class SearchQuery:
    """Every word of `whole` as a whole word, and a word starting with `prefix` (the last word typed)."""

    whole: tuple[str, ...]
    prefix: str
    start: str | None = None  # what the scan starts from, chosen by counting entries: a whole word, "" the prefix

    @property
    def bound(self) -> str | None:
        """The whole word the index scan starts from (None: the prefix's range): the one `start` names, else
        the longest (longer words are rarer)."""
        if self.start is not None:
            return self.start or None
        return max(self.whole, key=len) if self.whole else None

    def starting_from(self, fewest: str | None) -> SearchQuery:
        """The same query, its scan starting from `fewest` (a whole word of it, or None: the prefix)."""
        if fewest is not None and fewest not in self.whole:
            raise ValueError(f"{fewest!r} is not a word of the query")
        return SearchQuery(self.whole, self.prefix, fewest or "")

    def matches(self, word: str) -> float:
        """How much one indexed word matches: 1 for a whole query word, less for the prefix only, else 0."""
        if word in self.whole or word == self.prefix:
            return 1.0
        return _PREFIX_WEIGHT if word.startswith(self.prefix) else 0.0


def parse_query(q: str) -> SearchQuery | None:
    """The query's words (at most MAX_QUERY_WORDS, repeats once); None if it has none."""
    found = list(dict.fromkeys(words(q)))[:MAX_QUERY_WORDS]
    if not found:
        return None
    *whole, last = found
    return SearchQuery(whole=tuple(w for w in whole if w != last), prefix=last)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    position: int  # the word's place among the text's words
    asked: str  # the query word it matches (the prefix for a prefix match)
    weight: float


def _normalised(token: str) -> list[str]:
    """A token's search words (most tokens are plain ASCII: lower case is all shared/text.py's words does)."""
    return [token.lower()] if token.isascii() else words(token)


def _spans(query: SearchQuery, text: str) -> tuple[list[Span], int]:
    """Where the query's words are in the text, in order, and how many words the text has."""
    found = []
    position = -1
    for position, token in enumerate(_TOKEN.finditer(text)):
        for part in _normalised(token.group()):
            weight = query.matches(part)
            if weight:
                asked = part if part in query.whole else query.prefix
                found.append(Span(token.start(), token.end(), position, asked, weight))
                break
    return found, position + 1


def spans(query: SearchQuery, text: str) -> list[Span]:
    """Where the query's words are in the text (character offsets), in order."""
    return _spans(query, text)[0]


def score(query: SearchQuery, text: str) -> float:
    """Relevance of a message that holds every query word: BM25-like term frequency (saturating, shorter
    messages first), whole words over prefixes, and a bonus when the words stand together in the query's order
    (a phrase) or close to each other. 0 when a word is missing."""
    found, length = _spans(query, text)
    asked = [*query.whole, query.prefix]
    weight = dict.fromkeys(asked, 0.0)
    for s in found:
        weight[s.asked] += s.weight
    if not all(weight.values()):
        return 0.0
    norm = _K1 * (1 - _B + _B * max(1, length) / _AVERAGE_WORDS)
    relevance = sum(w * (_K1 + 1) / (w + norm) for w in weight.values())
    return round(relevance + _closeness(asked, found, length), 6)


def _closeness(asked: list[str], found: list[Span], length: int) -> float:
    """1 for the query's words side by side in its order (a phrase), less the farther apart they stand; 0 for a
    one-word query."""
    if len(asked) < 2:
        return 0.0
    at = [(s.position, s.asked) for s in found]
    present = set(at)
    if any(all((p + k, w) in present for k, w in enumerate(asked)) for p, _ in at):
        return 1.0
    shortest = length
    for i, (first, word) in enumerate(at):  # the shortest run of words that holds every query word
        seen = set()
        for position, other in at[i:]:
            seen.add(other)
            if len(seen) == len(asked):
                shortest = min(shortest, position - first + 1)
                break
    return 0.5 * len(asked) / shortest


@dataclass(frozen=True)
class Fragment:
    """A piece of a snippet: text, and whether it is a matched word (to show marked: never as HTML)."""

    text: str
    match: bool


def snippet(query: SearchQuery, text: str) -> list[Fragment]:
    """The message, or for a long one about SNIPPET_CHARS around its first match, cut at spaces and marked
    with an ellipsis where cut, as fragments with the matched words apart."""
    found = spans(query, text)
    start, end = 0, len(text)
    if len(text) > SNIPPET_CHARS:
        first = found[0].start if found else 0
        start = max(0, first - _CONTEXT_BEFORE)
        if start > 0:
            space = text.find(" ", start, first)
            start = space + 1 if space != -1 else start
        end = min(len(text), start + SNIPPET_CHARS)
        if end < len(text):
            space = text.rfind(" ", max(start, found[0].end if found else start), end)
            end = space if space != -1 else end
    fragments = [Fragment("…", False)] if start > 0 else []
    at = start
    for s in found:
        if s.start < start or s.end > end:
            continue
        if s.start > at:
            fragments.append(Fragment(text[at:s.start], False))
        fragments.append(Fragment(text[s.start:s.end], True))
        at = s.end
    if at < end:
        fragments.append(Fragment(text[at:end], False))
    if end < len(text):
        fragments.append(Fragment("…", False))
    return _merged(fragments)


def _merged(fragments: list[Fragment]) -> list[Fragment]:
    out: list[Fragment] = []
    for f in fragments:
        if out and out[-1].match == f.match and not f.match:
            out[-1] = Fragment(out[-1].text + f.text, False)
        else:
            out.append(f)
    return out
