"""Knowledge base (K4) use cases: save an article (create, or edit against the version read; publish by saving
it published), and a draft article from an agent's reply. Each article is saved with its embeddings (its text's and its
title's), computed before the write, off the event loop."""

from __future__ import annotations

import numpy as np

from services.cases.adapters.articles import ArticleStore
from services.cases.adapters.embeddings import shared_embedder
from services.cases.domain.knowledge import Article, draft_title
from services.cases.use_cases import Context, use_case
from shared.contracts.answers import Rejected
from shared.contracts.cases.knowledge import DraftArticleFromReply, SaveArticle


async def _embeddings_of(article: Article) -> tuple[np.ndarray, np.ndarray]:
    """Its text's and its title's embeddings."""
    text, title = await shared_embedder().passages([article.embedded_text, article.title])
    return text, title


@use_case(SaveArticle)
async def save_article(ctx: Context, cmd: SaveArticle) -> str:
    store = ArticleStore(ctx.tx, ctx.tenant_id)
    article = await store.get(cmd.article_id)
    if article is None:
        if cmd.version is not None:
            raise Rejected("not_found", f"article {cmd.article_id} does not exist")
        article, event = Article.create(cmd.article_id, title=cmd.title, body=cmd.body, tags=cmd.tags,
                                        language=cmd.language, status=cmd.status, by=ctx.by, now=ctx.now)
    else:
        changed = article.edit(version=cmd.version, title=cmd.title, body=cmd.body, tags=cmd.tags,
                               language=cmd.language, status=cmd.status, by=ctx.by, now=ctx.now)
        if changed is None:
            return article.id
        event = changed
    await store.save(article, *await _embeddings_of(article))
    ctx.events.append(event)
    return article.id


@use_case(DraftArticleFromReply)
async def draft_article_from_reply(ctx: Context, cmd: DraftArticleFromReply) -> str:
    """A draft whose body is the reply (masked, as chat keeps it) and which remembers where it came from."""
    store = ArticleStore(ctx.tx, ctx.tenant_id)
    if await store.get(cmd.article_id) is not None:
        raise Rejected("conflict", f"article {cmd.article_id} already exists")
    article, event = Article.create(cmd.article_id, title=cmd.title.strip() or draft_title(cmd.text), body=cmd.text,
                                    tags=["from-reply"], language=cmd.language, status="draft", by=ctx.by,
                                    now=ctx.now, source_conversation_id=cmd.conversation_id,
                                    source_message_id=cmd.message_id)
    await store.save(article, *await _embeddings_of(article))
    ctx.events.append(event)
    return article.id
