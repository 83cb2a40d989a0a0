"""Masking sensitive data where text enters chat (C4), pure: a tenant's policy (which kinds are masked, who
may read the originals) and the masker, which returns the masked text and the kinds it found.

The manual's examples fix the form: cards, IBANs, SSNs and phone numbers keep their last 4 characters,
every other non-space character becomes `*` and spaces go (`+ 1 (123) 456 7890` -> `**********7890`);
an e-mail keeps the first character of its local part and its domain (`melissa@gmail.com` ->
`m******@gmail.com`). Finding them is pii.py's.

`python -m services.chat.domain.masking --corpus FILE` prints recall and precision per kind on a labelled
corpus (JSON lines: text, masked, kinds), such as tests/unit/chat/masking_corpus.jsonl."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.chat.domain.pii import DEFAULT_PHONE_REGIONS, KINDS, Found, Kind, find_all

ORIGINALS_ROLES_DEFAULT: frozenset[str] = frozenset({"admin"})


@dataclass(frozen=True)
class MaskingPolicy:
    """A tenant's policy. The default (a tenant that never set one): every kind masked, originals readable by
    admins only, phone numbers in national format recognised for DEFAULT_PHONE_REGIONS."""
    card: bool = True
    iban: bool = True
    ssn: bool = True
    email: bool = True
    phone: bool = True
    originals_roles: frozenset[str] = ORIGINALS_ROLES_DEFAULT
    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS
    configured: bool = False

    @property
    def kinds(self) -> frozenset[Kind]:
        return frozenset(k for k in KINDS if getattr(self, k))

    def may_read_originals(self, role: str) -> bool:
        return role == "system" or role in self.originals_roles


EVERYTHING = MaskingPolicy()  # for what has no known tenant policy: dead letters, log lines


@dataclass(frozen=True)
class Masked:
    text: str
    kinds: frozenset[Kind] = field(default_factory=frozenset)

    @property
    def changed(self) -> bool:
        return bool(self.kinds)


def keep_last_four(value: str) -> str:
    """Every non-space character but the last 4 as `*`, spaces dropped."""
    compact = "".join(value.split())
    return "*" * max(0, len(compact) - 4) + compact[-4:]


def mask_email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    return local[:1] + "*" * (len(local) - 1) + "@" + domain


def mask_span(value: str, kind: Kind) -> str:
    return mask_email(value) if kind == "email" else keep_last_four(value)


class Masker:
    """Masks the kinds a policy turns on. Every kind is looked for either way, so a card number is never
    taken for a phone number when only phones are masked."""

    def __init__(self, policy: MaskingPolicy = EVERYTHING) -> None:
        self.policy = policy
        self._kinds = policy.kinds

    def find(self, text: str) -> list[Found]:
        if not self._kinds or not text:
            return []
        return [f for f in find_all(text, phone_regions=self.policy.phone_regions) if f.kind in self._kinds]

    def mask(self, text: str) -> Masked:
        spans = self.find(text)
        if not spans:
            return Masked(text)
        parts, position = [], 0
        for span in spans:
            parts += [text[position:span.start], mask_span(text[span.start:span.end], span.kind)]
            position = span.end
        parts.append(text[position:])
        return Masked("".join(parts), frozenset(s.kind for s in spans))

    def text(self, text: str) -> str:
        return self.mask(text).text


# --- the corpus report -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CorpusItem:
    text: str
    masked: str
    kinds: frozenset[Kind]
    note: str = ""


@dataclass
class KindScore:
    positives: int = 0
    recalled: int = 0
    detections: int = 0
    false_detections: int = 0

    @property
    def recall(self) -> float:
        return self.recalled / self.positives if self.positives else 1.0

    @property
    def precision(self) -> float:
        true = self.detections - self.false_detections
        return true / self.detections if self.detections else 1.0


@dataclass
class CorpusReport:
    scores: dict[Kind, KindScore]
    lookalikes: int
    lookalikes_untouched: int
    misses: list[tuple[CorpusItem, str]]  # (item, what the masker made of it) where it differs

    @property
    def lookalike_precision(self) -> float:
        return self.lookalikes_untouched / self.lookalikes if self.lookalikes else 1.0

    def lines(self) -> list[str]:
        out = [f"{'kind':<6} {'positives':>9} {'recall':>7} {'detections':>10} {'false':>6} {'precision':>9}"]
        for kind, s in self.scores.items():
            out.append(f"{kind:<6} {s.positives:>9} {s.recall:>7.3f} {s.detections:>10} {s.false_detections:>6} "
                       f"{s.precision:>9.3f}")
        out.append(f"look-alikes left alone: {self.lookalikes_untouched}/{self.lookalikes} "
                   f"= {self.lookalike_precision:.3f}")
        out += [f"  differs: {item.text!r} -> {got!r} (expected {item.masked!r})" for item, got in self.misses]
        return out


def load_corpus(path: Path) -> list[CorpusItem]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            items.append(CorpusItem(row["text"], row["masked"], frozenset(row["kinds"]), row.get("note", "")))
    return items


def score(items: Sequence[CorpusItem], masker: Masker | None = None) -> CorpusReport:
    """Recall per kind: the share of texts holding that kind that come out exactly as expected. Precision per
    kind: the share of texts the masker says hold that kind that do. Look-alikes: texts with no kind left
    exactly as they were."""
    masker = masker or Masker()
    scores = {kind: KindScore() for kind in KINDS}
    misses, lookalikes, untouched = [], 0, 0
    for item in items:
        got = masker.mask(item.text)
        exact = got.text == item.masked
        for kind in KINDS:
            s = scores[kind]
            s.positives += kind in item.kinds
            s.recalled += kind in item.kinds and kind in got.kinds and exact
            s.detections += kind in got.kinds
            s.false_detections += kind in got.kinds and kind not in item.kinds
        if not item.kinds:
            lookalikes += 1
            untouched += got.text == item.text
        if not exact:
            misses.append((item, got.text))
    return CorpusReport(scores, lookalikes, untouched, misses)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Recall and precision of the masker on a labelled corpus.")
    parser.add_argument("--corpus", type=Path, required=True, help="JSON lines: text, masked, kinds")
    report = score(load_corpus(parser.parse_args(list(argv) if argv is not None else None).corpus))
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
