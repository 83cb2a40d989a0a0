"""What the gateway keeps about an erased customer, blanked or deleted (privacy); the
record that it did is shared/erasures.py's.

Blanked: the conversation views (customer name, preview), the active-conversation views (name, pre-chat
answers, trail, visitor details, variables), and the frames of every stream still inside the
replay window (messages' texts and files, customer names, previews; line rows' names, previews and companies);
deleted: the favourites projection of the customer ids and the gateway's sent outbox rows for those
conversations (chat commands as the customer typed them). The frames are found by a scan of the stream
collection (no index on a frame's conversation: an erasure is rare, the window holds a day)."""

from __future__ import annotations

import re
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from shared.mongo import OUTBOX

from services.gateway import active_view
from services.gateway.adapters.favourites import FAVOURITES
from services.gateway.adapters.store import ACTIVE_VIEWS, CONVERSATIONS, STREAM

ERASED_TEXT, ERASED_NAME = "[erased]", "Erased customer"  # as chat writes them (services/chat/domain/erasure.py)
Doc = dict[str, Any]


class Erasure:
    """One erasure's writes inside the consumer's transaction."""

    def __init__(self, db: AsyncDatabase[Doc], session: AsyncClientSession, tenant_id: str) -> None:
        self.db, self.session, self.t = db, session, tenant_id

    async def _set(self, collection: str, query: Doc, values: Doc) -> int:
        return (await self.db[collection].update_many(query, {"$set": values}, session=self.session)).modified_count

    async def blank_views(self, conversation_ids: list[str]) -> int:
        return await self._set(CONVERSATIONS, {"_id": {"$in": [f"{self.t}:{c}" for c in conversation_ids]}},
                               {"customer_name": ERASED_NAME, "preview": ERASED_TEXT})

    async def blank_active_views(self, conversation_ids: list[str]) -> int:
        """The active-conversation views (G4) of these conversations: the customer's name and context blanked."""
        blanked = 0
        async for view in self.db[ACTIVE_VIEWS].find({"_id": {"$in": [f"{self.t}:{c}" for c in conversation_ids]}},
                                                     session=self.session):
            if (blank := active_view.erased(view, ERASED_NAME)) is not None:
                await self.db[ACTIVE_VIEWS].replace_one({"_id": view["_id"]}, blank, session=self.session)
                blanked += 1
        return blanked

    async def blank_frames(self, conversation_ids: list[str], customer_ids: list[str]) -> int:
        """Frames about these conversations or customers, on every stream of the tenant (agents' and customers')."""
        mine = {"recipient": {"$regex": f"^[a-z]+:{re.escape(self.t)}:"}}
        about = {**mine, "frame.conversation_id": {"$in": conversation_ids}}
        changed = await self._set(STREAM, {**about, "frame.type": "message"},
                                  {"frame.text": ERASED_TEXT, "frame.attachments": []})
        for field, value in (("customer_name", ERASED_NAME), ("preview", ERASED_TEXT)):
            changed += await self._set(STREAM, {**about, f"frame.{field}": {"$exists": True}},
                                       {f"frame.{field}": value})
        changed += await self._set(STREAM, {**mine, "frame.type": "line_user",
                                            "frame.customer_id": {"$in": customer_ids}},
                                   {"frame.name": ERASED_NAME, "frame.preview": ERASED_TEXT, "frame.company": None})
        return changed

    async def forget(self, conversation_ids: list[str], customer_ids: list[str]) -> dict[str, int]:
        favourites = await self.db[FAVOURITES].delete_many(
            {"_id": {"$in": [f"{self.t}:{c}" for c in customer_ids]}}, session=self.session)
        commands = await self.db[OUTBOX].delete_many(
            {"key": {"$in": conversation_ids}, "sent_at": {"$ne": None}}, session=self.session)
        return {"favourites": favourites.deleted_count, "sent_commands": commands.deleted_count}
