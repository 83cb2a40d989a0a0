"""Cases' internal read API for the knowledge base (K4), for the gateway: an article, search and lists for
staff, hints for the widget (published articles only), and how far behind the suggestions consumer is."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.cases.adapters.articles import ARTICLES, doc_id
from services.cases.adapters.retrieval import Method, Retriever
from services.cases.domain.knowledge import composer_text, snippet
from services.cases.suggestions import SuggestionStats
from shared.contracts.cases.knowledge import ArticleHit, ArticleList, ArticleView, Hint, HintList, SuggestionLag

Language = Annotated[str | None, Query(pattern=r"^[a-zA-Z]{2}([-_][a-zA-Z0-9]{1,8})*$",
                                       description="The query's language (ISO 639-1 or BCP 47; guessed if absent).")]


def _language(value: str | None) -> str | None:
    return value.split("-")[0].split("_")[0].lower() if value else None


def article_view(doc: dict) -> ArticleView:
    return ArticleView(article_id=doc["id"], **{k: doc.get(k) for k in (
        "title", "body", "tags", "language", "status", "version", "source_conversation_id", "source_message_id",
        "created_at", "updated_at", "updated_by")})


def knowledge_router(db: AsyncDatabase[dict], retriever: Retriever, stats: SuggestionStats) -> APIRouter:
    api = APIRouter()
    tenant_path = "/internal/tenants/{tenant}"

    @api.get(tenant_path + "/articles/{article_id}", responses={404: {"description": "No such article."}})
    async def get_article(tenant: str, article_id: str, published_only: bool = False) -> ArticleView:
        """An article with its version (send it back with an edit); `published_only`: a draft is not found."""
        doc = await db[ARTICLES].find_one({"_id": doc_id(tenant, article_id)}, {"embedding": 0})
        if doc is None or (published_only and doc["status"] != "published"):
            raise HTTPException(404, f"article {article_id} does not exist in tenant {tenant}")
        return article_view(doc)

    @api.get(tenant_path + "/articles")
    async def search_articles(tenant: str, q: Annotated[str | None, Query(max_length=1000)] = None,
                              status: Literal["published", "any"] = "any", language: Language = None,
                              method: Method = "combined", limit: Annotated[int, Query(ge=1, le=100)] = 20
                              ) -> ArticleList:
        """With `q`: ranked retrieval (text index, embeddings, or both fused); without: the most recently
        changed articles."""
        if q and q.strip():
            return ArticleList(hits=await retriever.search(tenant, q, language=_language(language), method=method,
                                                           published_only=status == "published", limit=limit))
        query = {"tenant_id": tenant, **({"status": "published"} if status == "published" else {})}
        cursor = db[ARTICLES].find(query, {"embedding": 0}).sort("updated_at", DESCENDING).limit(limit)
        return ArticleList(hits=[ArticleHit(article_id=d["id"], title=d["title"], snippet=snippet(d["body"]),
                                            text=composer_text(d["body"]), language=d["language"],
                                            status=d["status"], score=0.0) async for d in cursor])

    @api.get(tenant_path + "/hints")
    async def hints(tenant: str, q: Annotated[str, Query(min_length=1, max_length=300)], language: Language = None,
                    limit: Annotated[int, Query(ge=1, le=10)] = 5) -> HintList:
        """Similar questions while the customer types: the best published articles for what is typed so far."""
        found = await retriever.search(tenant, q, language=_language(language), limit=limit)
        return HintList(hints=[Hint(article_id=h.article_id, title=h.title, snippet=h.snippet) for h in found])

    @api.get("/internal/knowledge/suggestions")
    async def suggestions_lag() -> SuggestionLag:
        """This instance's suggestions consumer: counts and lag (suggestion time - message sent_at)."""
        return stats.view()

    return api
