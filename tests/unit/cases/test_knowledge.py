"""Knowledge base (K4) on the in-memory unit of work: articles saved with their embeddings under the tenant's
knowledge revision, edits against the version read, drafts from replies; and the pure rules: fusion of rankings,
tags, the language guess, what the composer gets."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from services.cases.adapters.articles import ARTICLES, REVISIONS
from services.cases.adapters.embeddings import from_bytes
from services.cases.domain.knowledge import (
    clean_tags,
    composer_text,
    cut,
    draft_title,
    fuse,
    hubness,
    guess_language,
    similarity,
    stale,
    text_language,
)
from shared.contracts import cases as c
from shared.contracts.answers import CommandRejected
from shared.contracts.envelope import Actor
from tests.unit.cases.harness import T0, Cases

pytestmark = pytest.mark.unit

RETURNS = "You can return most items within 30 days of delivery for a full refund, for any reason."


def save(article_id: str = "kb-returns", *, title: str = "Our 30-day return policy", body: str = RETURNS,
         version: int | None = None, status: str = "published", **more: object) -> c.SaveArticle:
    return c.SaveArticle(article_id=article_id, title=title, body=body, status=status, version=version,
                         **more)  # type: ignore[arg-type]


async def test_an_article_is_saved_with_its_embedding_under_the_next_knowledge_revision():
    cases = Cases()
    answer = await cases.ok(save(tags=["Returns", " returns ", "Refund  policy"]))
    assert answer.result_id == "kb-returns"
    doc = cases.stored(ARTICLES, "kb-returns")
    assert (doc["status"], doc["version"], doc["tags"], doc["text_language"], doc["revision"]) == (
        "published", 1, ["returns", "refund policy"], "english", 1)
    vector = from_bytes(doc["embedding"])
    assert vector.shape == (384,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-3
    (event,) = cases.events(c.ArticleSaved)
    assert (event.article_id, event.version, event.status, event.by) == ("kb-returns", 1, "published", "alice")

    await cases.ok(save("kb-other", title="Tracking your order", body="We e-mail a tracking link.", language="de"))
    assert cases.uow.docs[REVISIONS]["t1"]["revision"] == 2
    assert cases.stored(ARTICLES, "kb-other")["text_language"] == "german"


async def test_edits_name_the_version_read_and_a_new_id_must_be_new():
    cases = Cases()
    await cases.ok(save(status="draft"))
    reason = await cases.refused(save(), "conflict")
    assert "already exists" in reason
    cases.tick()
    await cases.ok(save(version=1, body=RETURNS + " Gift cards excepted."))
    doc = cases.stored(ARTICLES, "kb-returns")
    assert (doc["version"], doc["status"], doc["updated_at"]) == (2, "published", T0 + timedelta(seconds=1))
    assert "at version 2" in await cases.refused(save(version=1, title="Stale"), "version_conflict")
    await cases.ok(save(version=2, body=RETURNS + " Gift cards excepted."))  # nothing changed: no new version
    assert cases.stored(ARTICLES, "kb-returns")["version"] == 2 and len(cases.events(c.ArticleSaved)) == 2
    await cases.refused(save("kb-nothing", version=3), "not_found")
    await cases.refused(save("kb-blank", title="   "), "invalid_argument")


async def test_a_customer_cannot_write_articles_and_tenants_are_apart():
    cases = Cases()
    answer = await cases.send(save(), actor=Actor(user_id="visitor-1", role="customer"))
    assert isinstance(answer, CommandRejected) and answer.code == "forbidden"
    await cases.ok(save(), tenant="t1")
    await cases.ok(save(), tenant="t2")  # the same id in another tenant is another article
    assert cases.stored(ARTICLES, "kb-returns", tenant="t2")["revision"] == 1


async def test_a_draft_from_a_reply_remembers_where_it_came_from():
    cases = Cases()
    await cases.ok(c.DraftArticleFromReply(article_id="kb-d1", conversation_id="conv1", message_id="conv1-m4",
                                           title="Resetting the hub", text="Hold the button for 15 seconds."))
    doc = cases.stored(ARTICLES, "kb-d1")
    assert (doc["status"], doc["tags"], doc["source_conversation_id"], doc["source_message_id"]) == (
        "draft", ["from-reply"], "conv1", "conv1-m4")
    assert cases.events(c.ArticleSaved)[-1].source_conversation_id == "conv1"
    await cases.refused(c.DraftArticleFromReply(article_id="kb-d1", conversation_id="conv1", message_id="m5",
                                                title="Again", text="x"), "conflict")


def test_reciprocal_rank_fusion_rewards_agreement_and_keeps_a_stable_order():
    equal = {"text": 1.0, "vector": 1.0}
    fused = fuse({"text": ["a", "b", "c"], "vector": ["c", "a", "d"]}, weights=equal, k=60)
    assert [r.article_id for r in fused] == ["a", "c", "b", "d"]
    assert fused[0].ranks == {"text": 1, "vector": 2} and fused[3].ranks == {"vector": 3}
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 62)
    weighted = fuse({"text": ["a", "b"], "vector": ["b", "a"]}, weights={"vector": 2.0})
    assert [r.article_id for r in weighted] == ["b", "a"]
    tie = fuse({"text": ["x"], "vector": ["y"]}, weights=equal)
    assert [r.article_id for r in tie] == ["x", "y"]  # same score, same best rank: by id
    assert fuse({"text": ["a", "a", "b"]})[1].ranks == {"text": 2}  # a repeated id counts once
    assert len(fuse({"text": list("abcdef")}, limit=3)) == 3


def test_by_default_the_model_leads_and_a_text_match_moves_an_article_up_a_place_or_three():
    assert [r.article_id for r in fuse({"text": ["a"], "vector": ["b", "a"]})] == ["a", "b"]
    assert [r.article_id for r in fuse({"text": ["c"], "vector": ["a", "b", "c"]})] == ["a", "c", "b"]
    assert [r.article_id for r in fuse({"text": ["e"], "vector": list("abcde")})] == ["a", "b", "c", "e", "d"]
    assert [r.article_id for r in fuse({"text": ["j"], "vector": list("abcdefghij")})][6] == "j"
    # found by words only: after everything the model found
    assert [r.article_id for r in fuse({"text": ["x", "a"], "vector": ["a", "b"]})] == ["a", "b", "x"]
    assert similarity(1.0, 0.0) == pytest.approx(0.8)  # an article's text counts most, its title a fifth


def test_hubness_is_the_mean_cosine_to_the_nearest_other_articles_in_blocks_alike():
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(50, 8)).astype(np.float32)
    matrix[:10] = matrix[0] + 0.05 * rng.normal(size=(10, 8))  # ten near-alike articles (one template)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    cosines = matrix @ matrix.T
    np.fill_diagonal(cosines, -1)
    expected = np.sort(cosines, axis=1)[:, -5:].mean(axis=1)
    assert hubness(matrix, 5) == pytest.approx(expected, abs=1e-5)
    assert hubness(matrix, 5, block=7) == pytest.approx(expected, abs=1e-5)  # blocks end mid-way: same figures
    assert hubness(matrix, 5)[:10].min() > 0.9 > hubness(matrix, 5)[10:].max()  # the template's rows crowd
    assert list(hubness(matrix[:5], 5)) == [0.0] * 5  # too few to have five neighbours: no correction


def test_tags_titles_and_what_the_composer_gets():
    assert clean_tags(["Billing", "billing ", "", "Two  words"]) == ["billing", "two words"]
    assert draft_title("Hold the button on the back for fifteen seconds until it blinks") == \
        "Hold the button on the back for fifteen"
    long = "word " * 400
    assert len(composer_text(long)) <= 1000 and composer_text(long).endswith("…")
    assert composer_text("Use <code> here") == "Use (code) here"  # chat reserves < and > (C3)
    assert cut("short", 10) == "short"


def test_the_language_guess_and_the_text_index_languages():
    assert guess_language("где сейчас моя посылка?") == "ru"
    assert guess_language("Wo ist meine Sendung, ich habe sie nicht") == "de"
    assert guess_language("¿dónde está mi pedido? no llega") == "es"
    assert guess_language("where is my parcel, it has not arrived") == "en"
    assert guess_language("kur ir mana paka") is None
    assert (text_language("ru"), text_language("lv"), text_language(None)) == ("russian", "none", "none")


def test_a_message_reached_after_the_bound_is_stale():
    assert not stale(T0, T0 + timedelta(seconds=60), 60)
    assert stale(T0, T0 + timedelta(seconds=61), 60)
