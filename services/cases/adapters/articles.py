"""Knowledge articles <-> MongoDB documents, and the repository the use cases save them with.

Collections:
- `articles`: one per article, with its embeddings (float32 bytes: its text's and its title's) and `text_language`, the MongoDB language its
  text index stems it in (the index's language_override: per-article language, 'none' where MongoDB has no
  stemmer); `revision` is the tenant's knowledge revision at its last save;
- `knowledge_revisions`: one counter per tenant, raised in the transaction of every save, so an in-process
  vector cache (retrieval.py) knows from one read whether, and which, articles changed, on whichever instance;
- `knowledge_conversations`: the visitor's language of each conversation (the suggestions consumer's own)."""

from __future__ import annotations

from typing import Any

import numpy as np
from pymongo import ASCENDING, DESCENDING, TEXT
from pymongo.asynchronous.database import AsyncDatabase

from services.cases.domain.knowledge import Article, text_language
from services.cases.adapters.embeddings import to_bytes

ARTICLES, REVISIONS, LANGUAGES = "articles", "knowledge_revisions", "knowledge_conversations"
TEXT_WEIGHTS = {"title": 10, "tags": 5, "body": 1}
Doc = dict[str, Any]


def doc_id(tenant_id: str, record_id: str) -> str:
    return f"{tenant_id}|{record_id}"


def article_doc(tenant_id: str, article: Article, embedding: np.ndarray, title_embedding: np.ndarray,
                revision: int) -> Doc:
    return {"_id": doc_id(tenant_id, article.id), "tenant_id": tenant_id, "id": article.id, "title": article.title,
            "body": article.body, "tags": article.tags, "language": article.language,
            "text_language": text_language(article.language), "status": article.status, "version": article.version,
            "created_at": article.created_at, "updated_at": article.updated_at, "updated_by": article.updated_by,
            "source_conversation_id": article.source_conversation_id,
            "source_message_id": article.source_message_id, "revision": revision, "embedding": to_bytes(embedding),
            "title_embedding": to_bytes(title_embedding)}


def article_from(doc: Doc) -> Article:
    return Article(doc["id"], doc["title"], doc["body"], list(doc["tags"]), doc["language"], doc["status"],
                   doc["version"], doc["created_at"], doc["updated_at"], doc.get("updated_by"),
                   doc.get("source_conversation_id"), doc.get("source_message_id"))


async def ensure_knowledge_indexes(db: AsyncDatabase[Doc]) -> None:
    t = ("tenant_id", ASCENDING)
    # Equality on tenant_id before the text part: a search reads only its tenant's entries.
    await db[ARTICLES].create_index([t, ("title", TEXT), ("tags", TEXT), ("body", TEXT)], name="article_text",
                                    weights=TEXT_WEIGHTS, default_language="english",
                                    language_override="text_language")
    await db[ARTICLES].create_index([t, ("revision", ASCENDING)], name="by_revision")  # the vector cache's refresh
    await db[ARTICLES].create_index([t, ("status", ASCENDING), ("updated_at", DESCENDING)], name="recent")
    await db[ARTICLES].create_index([t, ("updated_at", DESCENDING)], name="recent_any")
    await db[LANGUAGES].create_index("at", name="languages_ttl", expireAfterSeconds=90 * 24 * 3600)


class ArticleStore:
    """One tenant's articles in a unit of work (load, put: the same code on MongoDB and the fakes)."""

    def __init__(self, tx: Any, tenant_id: str) -> None:
        self.tx = tx
        self.t = tenant_id
        self._versions: dict[str, int | None] = {}

    async def get(self, article_id: str) -> Article | None:
        doc = await self.tx.load(ARTICLES, doc_id(self.t, article_id))
        self._versions[article_id] = doc["version"] if doc else None
        return article_from(doc) if doc else None

    async def save(self, article: Article, embedding: np.ndarray, title_embedding: np.ndarray) -> None:
        """Write it with its embedding under the tenant's next knowledge revision (the counter's versioned put
        makes two saves at once conflict, and one runs again: revisions are never shared or skipped)."""
        counter = await self.tx.load(REVISIONS, self.t)
        revision = (counter["revision"] if counter else 0) + 1
        await self.tx.put(REVISIONS, {"_id": self.t, "tenant_id": self.t, "revision": revision, "version": revision},
                          read_version=counter["version"] if counter else None)
        await self.tx.put(ARTICLES, article_doc(self.t, article, embedding, title_embedding, revision),
                          read_version=self._versions.get(article.id))
        self._versions[article.id] = article.version
