"""The favourites projection in the gateway's database (U4, G5): for each customer, the agents who marked it a
favourite, built from customer's AgentTiesChanged. The projection joins it with chat's events (favourite
frames) and identity.py reads it for the `favourite_of` relation.

`favourites`: `{_id: "<tenant>:<customer id>", tenant_id, customer_id, agents: [agent ids]}`, read by `_id` only."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

FAVOURITES = "favourites"

Doc = dict[str, Any]


def _key(tenant_id: str, customer_id: str) -> str:
    return f"{tenant_id}:{customer_id}"


class Favourites:
    """Reads and writes inside one consumer transaction."""

    def __init__(self, db: AsyncDatabase[Doc], session: AsyncClientSession, tenant_id: str) -> None:
        self.db, self.session, self.tenant_id = db, session, tenant_id

    async def agents(self, customer_id: str) -> list[str]:
        """The agents who have this customer as a favourite."""
        doc = await self.db[FAVOURITES].find_one({"_id": _key(self.tenant_id, customer_id)}, session=self.session)
        return list(doc.get("agents", [])) if doc else []  # a $pull upsert leaves no list

    async def mark(self, customer_id: str, agent_id: str, favourite: bool) -> None:
        """Set or clear one agent's mark ($addToSet/$pull: applying an event twice changes nothing)."""
        change = {"$addToSet": {"agents": agent_id}} if favourite else {"$pull": {"agents": agent_id}}
        await self.db[FAVOURITES].update_one(
            {"_id": _key(self.tenant_id, customer_id)},
            {**change, "$setOnInsert": {"tenant_id": self.tenant_id, "customer_id": customer_id}},
            upsert=True, session=self.session)


async def is_favourite(db: AsyncDatabase[Doc], tenant_id: str, customer_id: str, agent_id: str) -> bool:
    """Whether the agent has the customer as a favourite (one read by `_id`)."""
    found = await db[FAVOURITES].find_one({"_id": _key(tenant_id, customer_id), "agents": agent_id},
                                          projection={"_id": 1})
    return found is not None
