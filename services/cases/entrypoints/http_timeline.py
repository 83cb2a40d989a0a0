"""Cases' internal read API for timelines (K2), for the gateway: a case's, contact's or account's timeline,
newest first, a page at a time. A record cases has no entries for has an empty timeline (the gateway checks
that contacts, accounts and cases exist); a cursor this timeline did not give out is a 422 with the reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from services.cases.adapters.timeline import TimelineQueries
from shared.contracts.answers import Rejected
from shared.contracts.cases.common import RecordKind
from shared.contracts.cases.timeline import EntryKind, TimelinePage


def timeline_router(queries: TimelineQueries) -> APIRouter:
    api = APIRouter(prefix="/internal/tenants/{tenant}")

    @api.get("/timeline/{kind}/{record_id}",
             responses={422: {"description": "A cursor this timeline did not give out, or a bad kind or limit."}})
    async def timeline(tenant: str, kind: RecordKind, record_id: str, cursor: str | None = None,
                       limit: Annotated[int, Query(ge=1, le=100)] = 10,
                       only: Annotated[list[EntryKind] | None, Query()] = None) -> TimelinePage:
        """The record's timeline: its conversations (started, assigned, transferred, ended with the wrap-up),
        case changes, links, quick notes and service requests (`only` these kinds, if given); give
        `next_cursor` back for older entries."""
        try:
            return await queries.page(tenant, kind, record_id, cursor=cursor, limit=limit, only=only or ())
        except Rejected as bad:
            raise HTTPException(422, bad.reason) from None

    return api
