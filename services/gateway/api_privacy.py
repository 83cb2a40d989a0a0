"""Privacy for admins and supervisors: a contact's export (everything held about it, composed from customer's
and chat's read APIs) and its erasure on request (customer.EraseContact; every service obeys ContactErased)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from shared.contracts import customer
from shared.contracts.chat.export import CustomerExport
from shared.contracts.customer.privacy import ContactExport
from shared.contracts.envelope import Identifier

from services.gateway.api_admin import admin
from services.gateway.api_customers import send_to_customer
from services.gateway.api_staff import ANSWERS, IdempotencyKey
from services.gateway.auth.permissions import Action
from services.gateway.identity import Staff
from services.gateway.reads import service_read

router = APIRouter(tags=["privacy"])


class Export(ContactExport):
    """Everything the services hold about a contact, as of `exported_at`."""
    exported_at: datetime
    exported_by: str = Field(description="Who asked (the staff user id).")
    conversations: list[CustomerExport] = Field(description="Chat's part: per linked customer id, its "
                                                            "conversations with messages, files and originals.")


@router.get("/v1/contacts/{contact_id}/export", response_model=Export,
            responses={404: {"description": "No such contact in your tenant (or it was erased)."}})
async def export_contact(contact_id: Identifier, request: Request,
                         staff: Staff = Depends(admin(Action.EXPORT_CUSTOMER_DATA))) -> Any:
    """The contact, its account, the chat customers linked to it with their line rows and agents' ties (customer),
    and their conversations with every message, the files' metadata and, where the masking policy lets the
    caller's role read them, the originals (chat). An erased or unknown contact is 404."""
    gw = request.app.state.gateway
    held = await service_read(gw.customer, "customer",
                              f"/internal/tenants/{staff.tenant_id}/contacts/{contact_id}/export")
    conversations = [await service_read(gw.chat, "chat", f"/internal/tenants/{staff.tenant_id}/customers/"
                                                          f"{customer_id}/export", role=staff.role.value)
                     for customer_id in held["customer_ids"]]
    return {**held, "conversations": conversations, "exported_at": datetime.now(UTC), "exported_by": staff.user_id}


@router.delete("/v1/contacts/{contact_id}", responses=ANSWERS)
async def erase_contact(contact_id: Identifier, request: Request,
                        staff: Staff = Depends(admin(Action.ERASE_CUSTOMER_DATA)), key: str | None = IdempotencyKey
                        ) -> JSONResponse:
    """Erase the contact on request: customer deletes it, its links, line rows and agents' ties and publishes
    ContactErased; chat deletes the originals and files of the linked customers' conversations and blanks their
    texts and name; the gateway blanks its views and frames. Each service keeps only the record that it did.
    Again: accepted, nothing changes; unknown or another tenant's contact: 404 `not_found`."""
    return await send_to_customer(request, staff, customer.EraseContact(contact_id=contact_id), key)
