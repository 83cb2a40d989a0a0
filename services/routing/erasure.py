"""Routing obeys an erasure (privacy): its work items keep the customer's name and the masked preview of the
first message (offers show them), ended ones for KEEP_ENDED_DAYS. chat.CustomerErased names the conversations
chat blanked; their work items take chat's placeholders, and routing keeps the record that it did
(shared/erasures.py). The work items are changed in place, in the consumer's transaction: a routing decision
running at the same time on one of them conflicts with it and runs again on the blanked item."""

from __future__ import annotations

from typing import Any

from services.routing.adapters.documents import doc_id
from services.routing.adapters.work_items import ITEMS
from shared.contracts import chat
from shared.contracts.envelope import Envelope
from shared.erasures import record_erasure

ERASED_TEXT, ERASED_NAME = "[erased]", "Erased customer"  # chat's placeholders (services/chat/domain/erasure.py)


class ErasureHandler:
    def __init__(self, uow: Any) -> None:
        self.uow = uow

    async def on_customer_erased(self, env: Envelope[chat.CustomerErased]) -> None:
        ev = env.payload

        async def work(tx: Any) -> None:
            items = 0
            for conversation_id in ev.conversation_ids:
                items += await tx.update_many(ITEMS, {"_id": doc_id(env.tenant_id, conversation_id)},
                                              {"customer_name": ERASED_NAME, "preview": ERASED_TEXT})
            await record_erasure(tx, env.tenant_id, ev.contact_id, at=env.occurred_at, by=ev.erased_by,
                                 customer_ids=ev.customer_ids, conversation_ids=ev.conversation_ids,
                                 counts={"work_items": items})
        await self.uow.run(work)
