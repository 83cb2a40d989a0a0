"""Ranked retrieval of knowledge articles (K4): MongoDB's text index (stemmed in the query's language, weighted
title > tags > body), the embedding model (cosine similarity against every article of the tenant, held in an
in-process cache), and both fused by reciprocal rank (domain/knowledge.py).

The vector cache stays correct with several instances: each search first reads the tenant's knowledge revision
(one document by id); when another instance (or this one) saved articles since, it loads just the articles saved
after the revision it holds. A revision is raised in the same transaction as the article it covers, so once the
counter reads R, every article saved under R or before is readable."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pymongo.asynchronous.database import AsyncDatabase

from services.cases.adapters.articles import ARTICLES, LANGUAGES, REVISIONS, doc_id
from services.cases.adapters.embeddings import DIMENSIONS, Embedder, from_bytes
from services.cases.domain.knowledge import (
    HUB_WEIGHT,
    composer_text,
    fuse,
    guess_language,
    hubness,
    similarity,
    snippet,
    text_language,
)
from shared.contracts.cases.knowledge import ArticleHit

Method = Literal["text", "vector", "combined"]
Doc = dict[str, Any]


@dataclass
class _Entry:
    title: str
    snippet: str
    text: str
    language: str
    status: str


@dataclass
class TenantVectors:
    """One tenant's articles as a matrix of unit vectors (one row each) with what a hit shows."""
    revision: int = 0
    entries: dict[str, _Entry] = field(default_factory=dict)
    vectors: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # (text's, title's)
    ids: list[str] = field(default_factory=list)
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, DIMENSIONS), dtype=np.float32))
    titles: np.ndarray = field(default_factory=lambda: np.zeros((0, DIMENSIONS), dtype=np.float32))
    published: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    hub: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))  # domain's hubness, per row

    def apply(self, docs: Sequence[Doc], revision: int) -> None:
        for doc in docs:
            self.entries[doc["id"]] = _Entry(doc["title"], snippet(doc["body"]), composer_text(doc["body"]),
                                             doc["language"], doc["status"])
            self.vectors[doc["id"]] = (from_bytes(doc["embedding"]), from_bytes(doc["title_embedding"]))
        self.ids = list(self.vectors)
        empty = np.zeros((0, DIMENSIONS), dtype=np.float32)
        self.matrix = np.vstack([self.vectors[i][0] for i in self.ids]) if self.ids else empty
        self.titles = np.vstack([self.vectors[i][1] for i in self.ids]) if self.ids else empty
        self.published = np.array([self.entries[i].status == "published" for i in self.ids], dtype=bool)
        self.hub = np.zeros(len(self.ids), dtype=np.float32)  # until the retriever computes it (off the loop)
        self.revision = revision


class Retriever:
    """Searches one service's articles; `candidates`: how many each method ranks before fusion."""

    def __init__(self, db: AsyncDatabase[Doc], embedder: Embedder, *, candidates: int = 30,
                 weights: dict[str, float] | None = None, max_tenants: int = 200) -> None:
        self.db = db
        self.embedder = embedder
        self.candidates = candidates
        self.weights = weights  # None: the domain's FUSION_WEIGHTS
        self._tenants: OrderedDict[str, TenantVectors] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._max_tenants = max_tenants

    async def vectors(self, tenant_id: str) -> TenantVectors:
        """The tenant's cache, brought up to the tenant's current revision."""
        counter = await self.db[REVISIONS].find_one({"_id": tenant_id}, {"revision": 1})
        current = counter["revision"] if counter else 0
        cached = self._tenants.get(tenant_id)
        if cached is not None and cached.revision >= current:
            self._tenants.move_to_end(tenant_id)
            return cached
        async with self._locks.setdefault(tenant_id, asyncio.Lock()):
            cached = self._tenants.get(tenant_id) or TenantVectors()
            if cached.revision < current:
                docs = await self.db[ARTICLES].find(
                    {"tenant_id": tenant_id, "revision": {"$gt": cached.revision, "$lte": current}},
                    {"id": 1, "title": 1, "body": 1, "language": 1, "status": 1, "embedding": 1,
                     "title_embedding": 1}).to_list()
                cached.apply(docs, current)
                # every row's neighbours may change: computed again (2,000 articles ~60 ms, 10,000 ~1 s)
                cached.hub = await asyncio.get_running_loop().run_in_executor(None, hubness, cached.matrix)
            self._tenants[tenant_id] = cached
            self._tenants.move_to_end(tenant_id)
            while len(self._tenants) > self._max_tenants:
                evicted, _ = self._tenants.popitem(last=False)
                self._locks.pop(evicted, None)
            return cached

    async def conversation_language(self, tenant_id: str, conversation_id: str) -> str | None:
        """The visitor's language of a conversation, as the suggestions consumer remembered it."""
        known = await self.db[LANGUAGES].find_one({"_id": doc_id(tenant_id, conversation_id)}, {"language": 1})
        return known["language"] if known else None

    async def text_ranking(self, tenant_id: str, q: str, language: str, *, published_only: bool,
                           limit: int) -> list[tuple[str, float]]:
        """MongoDB's text index: (article id, text score), best first."""
        query: Doc = {"tenant_id": tenant_id, "$text": {"$search": q, "$language": text_language(language)}}
        if published_only:
            query["status"] = "published"
        cursor = self.db[ARTICLES].find(query, {"id": 1, "score": {"$meta": "textScore"}}).sort(
            [("score", {"$meta": "textScore"})]).limit(limit)
        return [(doc["id"], float(doc["score"])) async for doc in cursor]

    async def vector_ranking(self, cache: TenantVectors, q: str, *, published_only: bool,
                             limit: int) -> list[tuple[str, float]]:
        """The embedding model: (article id, similarity: its text's and its title's cosine, weighted), best first."""
        if not cache.ids:
            return []
        query = await self.embedder.query(q)
        scores = similarity(cache.matrix @ query, cache.titles @ query) - HUB_WEIGHT * cache.hub
        if published_only:
            scores = np.where(cache.published, scores, -np.inf)
        top = np.argsort(-scores)[:limit]
        return [(cache.ids[i], float(scores[i])) for i in top if np.isfinite(scores[i])]

    async def search(self, tenant_id: str, q: str, *, language: str | None = None, method: Method = "combined",
                     published_only: bool = True, limit: int = 10) -> list[ArticleHit]:
        """Articles for `q`, best first. `language`: the query's (ISO 639-1; guessed from `q` when not given,
        English when there is nothing to go on), for the text index's stemming."""
        q = " ".join(q.split())[:1000]
        cache = await self.vectors(tenant_id)
        if not q:
            return []
        language = language or guess_language(q) or "en"
        depth = max(self.candidates, limit)
        async def nothing() -> list[tuple[str, float]]:
            return []

        # MongoDB searches its text index while the model embeds the question (in its thread)
        text, vector = await asyncio.gather(
            self.text_ranking(tenant_id, q, language, published_only=published_only, limit=depth)
            if method in ("text", "combined") else nothing(),
            self.vector_ranking(cache, q, published_only=published_only, limit=depth)
            if method in ("vector", "combined") else nothing())
        if method == "text":
            scored = text
        elif method == "vector":
            scored = vector
        else:
            fused = fuse({"text": [a for a, _ in text], "vector": [a for a, _ in vector]}, weights=self.weights,
                         limit=depth)
            scored = [(r.article_id, r.score) for r in fused]
        hits = []
        for article_id, score in scored:
            entry = cache.entries.get(article_id)  # saved after the cache was brought up to date: next time
            if entry is None:
                continue
            hits.append(ArticleHit(article_id=article_id, title=entry.title, snippet=entry.snippet, text=entry.text,
                                   language=entry.language, status=entry.status,  # type: ignore[arg-type]
                                   score=round(score, 6)))
            if len(hits) == limit:
                break
        return hits
