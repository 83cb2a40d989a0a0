"""Customer's internal read API (FastAPI, JSON), for the gateway: contacts, accounts and search. Never
exposed publicly; every path is per tenant; an unknown id is a 404 with the reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure

from services.customer.adapters.queries import CustomerQueries
from shared.contracts.customer.reads import AccountView, ContactView, SearchResult


def read_api(queries: CustomerQueries) -> FastAPI:
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

    app = FastAPI(title="customer internal read API", version="0.1.0",
                  description="Contacts, accounts and search, for the gateway. Not public.")
    app.include_router(api)

    @app.exception_handler(ConnectionFailure)
    async def database_unavailable(request: Request, exc: ConnectionFailure) -> JSONResponse:
        return JSONResponse({"detail": f"customer's database is not answering ({type(exc).__name__})"},
                            status_code=503)

    return app
