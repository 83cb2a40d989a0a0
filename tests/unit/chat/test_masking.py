"""C4 masking, pure: the labelled corpus (recall and precision, printed with -s), the manual's examples, the
policy per kind, and libphonenumber's two traps (shared/LIBRARIES.md) tested both ways."""

from __future__ import annotations

from pathlib import Path

import phonenumbers
import pytest

from services.chat.domain.masking import EVERYTHING, Masker, MaskingPolicy, load_corpus, score
from services.chat.domain.pii import KINDS

pytestmark = pytest.mark.unit
CORPUS = Path(__file__).with_name("masking_corpus.jsonl")


def test_the_corpus_is_large_and_varied() -> None:
    items = load_corpus(CORPUS)
    assert len(items) >= 200
    assert all(any(kind in item.kinds for item in items) for kind in KINDS)
    assert sum(1 for item in items if not item.kinds) >= 100  # look-alikes


def test_corpus_recall_is_one_and_lookalikes_are_left_alone() -> None:
    report = score(load_corpus(CORPUS))
    print("\n" + "\n".join(report.lines()))
    for kind, s in report.scores.items():
        assert s.positives > 0
        assert s.recall == 1.0, f"{kind}: recall {s.recall:.3f}"
    assert report.lookalike_precision >= 0.95, f"look-alikes left alone: {report.lookalike_precision:.3f}"
    assert all(s.precision >= 0.9 for s in report.scores.values())


@pytest.mark.parametrize(("text", "masked"), [
    ("+ 1 (123) 456 7890", "**********7890"),
    ("+447966197542", "*********7542"),
    ("melissa@gmail.com", "m******@gmail.com"),
])
def test_the_manuals_examples(text: str, masked: str) -> None:
    assert Masker().text(text) == masked


def test_what_the_masker_reports() -> None:
    got = Masker().mask("card 4111 1111 1111 1111, mail melissa@gmail.com")
    assert got.text == "card ************1111, mail m******@gmail.com"
    assert got.kinds == {"card", "email"} and got.changed
    untouched = Masker().mask("Order #123456789 arrived on 2024-03-15")
    assert untouched.text == "Order #123456789 arrived on 2024-03-15" and not untouched.changed


SAMPLE = ("card 4111 1111 1111 1111 iban DE89 3704 0044 0532 0130 00 ssn 212-09-4731 "
          "mail melissa@gmail.com phone +447966197542")
MASKED = {"card": "************1111", "iban": "******************3000", "ssn": "*******4731",
          "email": "m******@gmail.com", "phone": "*********7542"}
ORIGINAL = {"card": "4111 1111 1111 1111", "iban": "DE89 3704 0044 0532 0130 00", "ssn": "212-09-4731",
            "email": "melissa@gmail.com", "phone": "+447966197542"}


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_only_when_the_policy_turns_it_on(kind: str) -> None:
    only = Masker(MaskingPolicy(**{k: k == kind for k in KINDS})).mask(SAMPLE)
    assert only.kinds == {kind}
    assert MASKED[kind] in only.text
    assert all(ORIGINAL[other] in only.text for other in KINDS if other != kind)
    without = Masker(MaskingPolicy(**{kind: False})).mask(SAMPLE)
    assert kind not in without.kinds and ORIGINAL[kind] in without.text
    assert all(MASKED[other] in without.text for other in KINDS if other != kind)


def test_nothing_masked_when_every_kind_is_off() -> None:
    off = MaskingPolicy(**dict.fromkeys(KINDS, False))
    assert Masker(off).mask(SAMPLE).text == SAMPLE


def test_a_card_is_not_taken_for_a_phone_when_only_phones_are_masked() -> None:
    phones_only = Masker(MaskingPolicy(**{k: k == "phone" for k in KINDS}))
    assert phones_only.text("pay with 4111 1111 1111 1111") == "pay with 4111 1111 1111 1111"


def test_who_reads_originals() -> None:
    assert EVERYTHING.may_read_originals("admin") and not EVERYTHING.may_read_originals("agent")
    assert MaskingPolicy(originals_roles=frozenset({"agent", "admin"})).may_read_originals("agent")
    assert not MaskingPolicy(originals_roles=frozenset()).may_read_originals("admin")


def test_national_numbers_only_for_the_tenants_regions() -> None:
    assert Masker(MaskingPolicy(phone_regions=("GB",))).text("call 07966 197542") == "call *******7542"
    assert Masker(MaskingPolicy(phone_regions=("LV",))).text("call 07966 197542") == "call 07966 197542"
    latvian = Masker(MaskingPolicy(phone_regions=("LV",)))
    assert latvian.text("call +44 7966 197542") == "call *********7542"  # international: any region


# --- libphonenumber's traps, both ways -----------------------------------------------------------------

def test_trap_default_leniency_misses_a_number_we_must_mask() -> None:
    text = "call + 1 (123) 456 7890"
    assert list(phonenumbers.PhoneNumberMatcher(text, "US")) == []  # the library's default: VALID
    assert len(list(phonenumbers.PhoneNumberMatcher(text, "US", leniency=phonenumbers.Leniency.POSSIBLE))) == 1
    assert Masker().text(text) == "call **********7890"


@pytest.mark.parametrize("text", ["Tracking 9400 1000 0000 0000 0000 00", "UPS 1Z999AA10123456784 delivered",
                                  "Invoice INV-2024-000123", "on 15.03.2024 at 14:30"])
def test_trap_possible_leniency_finds_digits_inside_other_numbers(text: str) -> None:
    possible = [m for region in ("GB", "DE", "US")
                for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE)]
    assert possible, "the trap: POSSIBLE matches digits inside"
    assert Masker().text(text) == text


def test_a_customer_name_that_is_a_phone_number() -> None:
    assert Masker().text("+447966197542") == "*********7542"
    assert Masker().text("Melissa Jones") == "Melissa Jones"
