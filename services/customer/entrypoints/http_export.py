"""Customer's internal read API for privacy: a contact's export (for the gateway, which adds chat's part)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from services.customer.adapters.export_queries import ExportQueries
from shared.contracts.customer.privacy import ContactExport


def export_api(queries: ExportQueries) -> APIRouter:
    api = APIRouter(prefix="/internal/tenants/{tenant}")

    @api.get("/contacts/{contact_id}/export", responses={404: {"description": "No such contact in this tenant."}})
    async def export_contact(tenant: str, contact_id: str) -> ContactExport:
        """Everything customer holds about a contact: the contact, its account, the chat customers linked to it,
        their line rows, conversations' line records and agents' ties."""
        found = await queries.contact(tenant, contact_id)
        if found is None:
            raise HTTPException(404, f"contact {contact_id} does not exist in tenant {tenant}")
        return ContactExport.model_validate(found)

    return api
