"""Cases' internal read API (FastAPI, JSON), for the gateway: cases, search, a customer's recent cases, a
conversation's case, service requests. Never exposed publicly; every path is per tenant; an unknown id is a
404 with the reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Query

from services.cases.adapters.queries import CaseQueries
from shared.contracts.cases.reads import CaseList, CaseView, ConversationCase, ServiceRequestList, ServiceRequestView
from shared.read_api import internal_api

Limit = Annotated[int, Query(ge=1, le=100)]


def case_router(queries: CaseQueries) -> APIRouter:
    api = APIRouter(prefix="/internal/tenants/{tenant}")

    @api.get("/cases/{case_id}", responses={404: {"description": "No such case in this tenant."}})
    async def get_case(tenant: str, case_id: str) -> CaseView:
        """A case with its version (send it back with an edit) and the statuses it may move to."""
        case = await queries.get(tenant, case_id)
        if case is None:
            raise HTTPException(404, f"case {case_id} does not exist in tenant {tenant}")
        return case

    @api.get("/cases")
    async def search(tenant: str, q: Annotated[str, Query(min_length=1, max_length=200)],
                     limit: Limit = 20) -> CaseList:
        """K1 search: by number (CAS-000042 or 42), id, contact or account id, title words (the last word a
        prefix), customer name; ranked in that order, then newest first."""
        return CaseList(hits=await queries.search(tenant, q, limit=limit))

    @api.get("/contacts/{contact_id}/cases")
    async def contact_cases(tenant: str, contact_id: str, limit: Limit = 10) -> CaseList:
        """A contact's recent cases, newest first."""
        return CaseList(hits=await queries.recent(tenant, contact_id=contact_id, limit=limit))

    @api.get("/accounts/{account_id}/cases")
    async def account_cases(tenant: str, account_id: str, limit: Limit = 10) -> CaseList:
        """An account's recent cases, newest first."""
        return CaseList(hits=await queries.recent(tenant, account_id=account_id, limit=limit))

    @api.get("/conversations/{conversation_id}/case")
    async def conversation_case(tenant: str, conversation_id: str) -> ConversationCase:
        """The case a conversation is linked to (case_id None: none) and its customer as cases knows it. The
        caller (the gateway) knows the conversation exists; one cases has not heard of yet has no case: cases
        may lag behind chat.events, and opening a case for it is accepted all the same."""
        found = await queries.conversation(tenant, conversation_id)
        return found or ConversationCase(conversation_id=conversation_id, case_id=None, contact_id=None,
                                         account_id=None)

    @api.get("/service-requests/{service_request_id}",
             responses={404: {"description": "No such service request in this tenant."}})
    async def service_request(tenant: str, service_request_id: str) -> ServiceRequestView:
        found = await queries.service_request(tenant, service_request_id)
        if found is None:
            raise HTTPException(404, f"service request {service_request_id} does not exist in tenant {tenant}")
        return found

    @api.get("/service-requests")
    async def service_requests(tenant: str, conversation_id: str | None = None, contact_id: str | None = None,
                               limit: Limit = 50) -> ServiceRequestList:
        """Service requests of a conversation or a contact (or the tenant's), newest first."""
        return ServiceRequestList(items=await queries.service_requests(
            tenant, conversation_id=conversation_id, contact_id=contact_id, limit=limit))

    return api


def read_api(queries: CaseQueries, *routers: APIRouter) -> FastAPI:
    return internal_api("cases", "Cases, timelines, service requests and knowledge, for the gateway. Not public.",
                        case_router(queries), *routers)
