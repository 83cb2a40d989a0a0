"""The gateway obeys an erasure (privacy): chat.CustomerErased names the conversations chat blanked and the
customer ids; the gateway blanks its views and the frames still in the replay window, forgets the favourites
projection and its sent commands for them, and keeps the record that it did (shared/erasures.py). The event's
id is recorded in the same transaction, so a redelivery changes nothing."""

from __future__ import annotations

from typing import Any

from shared.contracts import chat
from shared.contracts.envelope import Envelope
from shared.erasures import record_erasure
from shared.mongo import MongoUnitOfWork, Transaction

from services.gateway.adapters.erasure import Erasure


class ErasureHandler:
    def __init__(self, uow: MongoUnitOfWork) -> None:
        self.uow = uow

    async def on_customer_erased(self, env: Envelope[chat.CustomerErased]) -> None:
        ev = env.payload

        async def work(tx: Transaction) -> None:
            erasure = Erasure(tx.db, tx.session, env.tenant_id)
            counts = {"views": await erasure.blank_views(ev.conversation_ids),
                      "active_views": await erasure.blank_active_views(ev.conversation_ids),
                      "frames": await erasure.blank_frames(ev.conversation_ids, ev.customer_ids),
                      **await erasure.forget(ev.conversation_ids, ev.customer_ids)}
            await record_erasure(tx, env.tenant_id, ev.contact_id, at=env.occurred_at, by=ev.erased_by,
                                 customer_ids=ev.customer_ids, conversation_ids=ev.conversation_ids, counts=counts)
        await self.uow.run(work)


def erasure_handlers(uow: MongoUnitOfWork) -> dict[type, Any]:
    """chat.events' handlers the gateway adds for privacy (bootstrap merges them into the projection's)."""
    return {chat.CustomerErased: ErasureHandler(uow).on_customer_erased}
