"""Identity (U5) for staff: link a conversation's customer to an existing contact or account, or create the contact
from the conversation. Allowed to whoever may work or supervise the conversation (permission `link_customer`);
the customer is the one the gateway's view of the conversation names, never one from the body. The customer
service links it (customer.LinkCustomer, its answer returned); chat then renames the customer in its
conversations and the desks on them get a `customer_identified` frame."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from shared.contracts import customer
from shared.contracts.envelope import Identifier

from services.gateway.api_customers import send_to_customer
from services.gateway.api_staff import ANSWERS, IdempotencyKey, repeated
from services.gateway.auth.permissions import Action
from services.gateway.identity import Staff, authorise, require_staff

router = APIRouter(tags=["customers"])


class Link(BaseModel):
    """Exactly one of: an existing contact, an existing account, or a contact to create from the conversation."""
    model_config = ConfigDict(extra="forbid")
    contact_id: Identifier | None = Field(None, description="An existing contact of the tenant.")
    account_id: Identifier | None = Field(None, description="An existing account (company) of the tenant.")
    create: customer.ContactFields | None = Field(None, description="A new contact's fields (full_name required; "
                                                                    "e-mail and phone checked), linked at once.")

    @model_validator(mode="after")
    def one_target(self) -> Link:
        if sum(x is not None for x in (self.contact_id, self.account_id, self.create)) != 1:
            raise ValueError("give exactly one of contact_id, account_id, create")
        return self


@router.post("/v1/conversations/{conversation_id}/link", responses=ANSWERS)
async def link(conversation_id: Identifier, body: Link, request: Request, staff: Staff = Depends(require_staff),
               key: str | None = IdempotencyKey) -> JSONResponse:
    """Link the conversation's customer (replacing an earlier link); result_id is the contact (the new one when
    `create`) or the account linked. An unknown contact or account is 404 `not_found`."""
    if (first := await repeated(request, staff, key)) is not None:
        return first
    access = await authorise(request.app.state.gateway.db, staff, conversation_id, Action.LINK_CUSTOMER)
    customer_id: Any = (access.view or {}).get("customer_id")
    if not customer_id:  # the view has not seen the conversation start yet
        raise HTTPException(409, detail={"error": "invalid_state", "detail": "The conversation's customer is not "
                                                                             "known yet: try again."})
    return await send_to_customer(request, staff, customer.LinkCustomer(
        customer_id=customer_id, conversation_id=conversation_id,
        contact_id=uuid4().hex if body.create is not None else body.contact_id, account_id=body.account_id,
        create=body.create), key)
