"""Customer's internal read API (FastAPI, JSON), for the gateway: contacts, accounts and search. Never
exposed publicly; every path is per tenant; an unknown id is a 404 with the reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Query

from services.customer.adapters.line_queries import LineQueries
from services.customer.adapters.queries import CustomerQueries
from shared.contracts.answers import Rejected
from shared.contracts.customer.reads import AccountView, ContactCustomers, ContactView, LinePage, SearchResult
from shared.read_api import internal_api


def read_api(queries: CustomerQueries, lines: LineQueries, *,
             clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> FastAPI:
    api = APIRouter(prefix="/internal/tenants/{tenant}")

    async def existing(tenant: str, kind: str, record_id: str) -> dict:
        doc = await queries.get(tenant, kind, record_id)
        if doc is None:
            raise HTTPException(404, f"{kind} {record_id} does not exist in tenant {tenant}")
        return {**doc["fields"], f"{kind}_id": doc["id"], "version": doc["version"],
                "created_at": doc["created_at"], "updated_at": doc["updated_at"]}

    @api.get("/contacts/{contact_id}", responses={404: {"description": "No such contact in this tenant."}})
    async def get_contact(tenant: str, contact_id: str) -> ContactView:
        """A contact with its version (send it back with an edit)."""
        return ContactView.model_validate(await existing(tenant, "contact", contact_id))

    @api.get("/contacts/{contact_id}/customers", responses={404: {"description": "No such contact in this tenant."}})
    async def contact_customers(tenant: str, contact_id: str) -> ContactCustomers:
        """The chat customers linked to the contact (U5)."""
        await existing(tenant, "contact", contact_id)
        return ContactCustomers(contact_id=contact_id, customer_ids=await queries.linked_customers(tenant, contact_id))

    @api.get("/accounts/{account_id}", responses={404: {"description": "No such account in this tenant."}})
    async def get_account(tenant: str, account_id: str) -> AccountView:
        """An account with its version (send it back with an edit)."""
        return AccountView.model_validate(await existing(tenant, "account", account_id))

    @api.get("/search")
    async def search(tenant: str, q: Annotated[str, Query(min_length=1, max_length=200)],
                     limit: Annotated[int, Query(ge=1, le=100)] = 20) -> SearchResult:
        """U2: by name (words and the prefix of the last word, case- and accent-insensitive), login id, e-mail,
        phone, id, company name or tax id; best first."""
        return SearchResult(hits=await queries.search(tenant, q, limit=limit))

    @api.get("/lines/{line_id}/users", responses={422: {"description": "A cursor this list did not give out."}})
    async def line_users(tenant: str, line_id: str, agent_id: str, cursor: str | None = None,
                         limit: Annotated[int, Query(ge=1, le=200)] = 50,
                         q: Annotated[str | None, Query(max_length=200)] = None,
                         status: Literal["online", "away", "offline"] | None = None,
                         open_with_me: bool = False) -> LinePage:
        """U3: the line's users for this agent, newest last message first, then by name; a line of more than
        100 users lists only the agent's relevant ones (streaming mode) unless `q` searches."""
        try:
            return await lines.page(tenant, line_id, agent_id=agent_id, now=clock(), limit=limit, cursor=cursor,
                                    q=q, status=status, open_with_me=open_with_me)
        except Rejected as bad:
            raise HTTPException(422, bad.reason) from None

    return internal_api("customer", "Contacts, accounts, search and the users of lines, for the gateway. Not public.",
                        api)
