"""History search (C6), the read behind chat's internal search route: the candidates from the words index
(adapters/masking.py), ranked and cut into snippets by domain/search.py."""

from __future__ import annotations

from services.chat.adapters.masking import MaskingQueries
from services.chat.domain.search import SearchQuery, score, snippet
from shared.contracts.chat.common import Sender
from shared.contracts.chat.privacy import Fragment, SearchHit, SearchResults


async def search_history(masking: MaskingQueries, tenant_id: str, query: SearchQuery, *,
                         conversation_ids: list[str] | None, limit: int) -> SearchResults:
    """The best `limit` messages holding every query word, best first, then newest."""
    if conversation_ids == []:
        return SearchResults(hits=[])
    messages, conversations, complete = await masking.search(tenant_id, query, conversation_ids=conversation_ids)
    ranked = sorted(((score(query, m["text"]), m) for m in messages if m["conversation_id"] in conversations),
                    key=lambda pair: (pair[0], pair[1]["sent_at"]), reverse=True)
    hits = []
    for relevance, m in ranked:
        if relevance <= 0:  # terms not written from this text (an older document): not a match
            continue
        conversation = conversations[m["conversation_id"]]
        hits.append(SearchHit(
            conversation_id=m["conversation_id"], message_id=m["message_id"], seq=m["seq"],
            sender=Sender.model_validate(m["sender"]), text=m["text"], score=relevance, sent_at=m["sent_at"],
            snippet=[Fragment(text=f.text, match=f.match) for f in snippet(query, m["text"])],
            customer_id=conversation["customer"]["customer_id"], queue_id=conversation["queue_id"]))
        if len(hits) == limit:
            break
    return SearchResults(hits=hits, complete=complete)
