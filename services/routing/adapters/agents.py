"""The agent repository: agents' routing state (presence, capacity, load, skills) as MongoDB documents
in one tenant, loaded by id and saved version-checked, so two transactions cannot both take an agent's
last free slot."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.routing.adapters.documents import doc_id, entity_doc, entity_fields
from services.routing.adapters.versioned import VersionedCollection
from services.routing.domain.model import Agent, Presence
from shared.mongo import Transaction

AGENTS = "agents"


def agent_to_doc(tenant_id: str, a: Agent) -> dict[str, Any]:
    return entity_doc(a, tenant_id, a.agent_id)


def agent_from_doc(doc: dict[str, Any]) -> Agent:
    values = entity_fields(Agent, doc)
    values["presence"] = Presence(values["presence"])
    return Agent(**values)


async def ensure_agent_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db[AGENTS].create_index([("tenant_id", ASCENDING)])


class MongoAgents:
    def __init__(self, tx: Transaction, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.docs = VersionedCollection(tx, tenant_id, AGENTS, id_of=lambda a: a.agent_id, from_doc=agent_from_doc)

    async def by_ids(self, agent_ids: Iterable[str]) -> dict[str, Agent]:
        return await self.docs.find({"_id": {"$in": [doc_id(self.tenant_id, a) for a in sorted(agent_ids)]}})

    async def save(self, agents: Iterable[Agent]) -> None:
        await self.docs.write(agents, lambda a: agent_to_doc(self.tenant_id, a))
