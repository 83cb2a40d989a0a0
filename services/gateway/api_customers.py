"""Contacts and accounts for staff (U1, U2): create, read, edit inline with the version read, and search.
Writes go to the customer service as commands (its answer is returned); reads come from its read API."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field, create_model
from shared.contracts import customer
from shared.contracts.catalogue import CUSTOMER_COMMANDS
from shared.contracts.customer.common import AccountField, ContactField
from shared.contracts.customer.reads import AccountView, ContactView, SearchResult
from shared.contracts.envelope import Identifier

from services.gateway.api_admin import admin
from services.gateway.api_staff import ANSWERS, IdempotencyKey
from services.gateway.auth.permissions import Action
from services.gateway.commands import request_id_for
from services.gateway.identity import Staff
from services.gateway.reads import service_read

router = APIRouter(tags=["customers"])

NewContact = create_model("NewContact", __base__=customer.ContactFields,
                          contact_id=(Identifier | None, Field(None, description="Your id for it (generated if "
                                                                                 "omitted).")))
NewAccount = create_model("NewAccount", __base__=customer.AccountFields,
                          account_id=(Identifier | None, Field(None, description="Your id for it (generated if "
                                                                                 "omitted).")))
ContactEdit = create_model("ContactEdit", __base__=customer.ContactFields,
                           version=(int, Field(ge=1, description="The version you read (a stale one: 409).")),
                           clear=(list[ContactField], Field(default_factory=list, description="Fields to empty.")))
AccountEdit = create_model("AccountEdit", __base__=customer.AccountFields,
                           version=(int, Field(ge=1, description="The version you read (a stale one: 409).")),
                           clear=(list[AccountField], Field(default_factory=list, description="Fields to empty.")))


async def send_to_customer(request: Request, staff: Staff, command: customer.CustomerCommand,
                           key: str | None) -> JSONResponse:
    command = command.model_copy(update={"request_id": request_id_for(staff.tenant_id, staff.user_id, key)})
    return await request.app.state.gateway.bus.send(CUSTOMER_COMMANDS, command, tenant_id=staff.tenant_id,
                                                    actor=staff.actor)


def _fields(body: Any, model: type[Any]) -> Any:
    return model.model_validate(body.model_dump(include=set(model.model_fields), exclude_none=True))


@router.post("/v1/contacts", responses=ANSWERS)
async def create_contact(body: NewContact, request: Request,  # type: ignore[valid-type]
                         staff: Staff = Depends(admin(Action.EDIT_CONTACTS)), key: str | None = IdempotencyKey
                         ) -> JSONResponse:
    """A new contact (full_name required; e-mail, phone and tax ids checked); result_id is its id."""
    return await send_to_customer(request, staff, customer.CreateContact(
        contact_id=body.contact_id or uuid4().hex, fields=_fields(body, customer.ContactFields)), key)


@router.patch("/v1/contacts/{contact_id}", responses=ANSWERS)
async def edit_contact(contact_id: Identifier, body: ContactEdit, request: Request,  # type: ignore[valid-type]
                       staff: Staff = Depends(admin(Action.EDIT_CONTACTS)), key: str | None = IdempotencyKey
                       ) -> JSONResponse:
    """Inline edit: the fields given are set, those in `clear` emptied, if `version` is still the current one."""
    return await send_to_customer(request, staff, customer.UpdateContact(
        contact_id=contact_id, version=body.version, changes=_fields(body, customer.ContactFields),
        clear=body.clear), key)


@router.get("/v1/contacts/{contact_id}", response_model=ContactView)
async def get_contact(contact_id: Identifier, request: Request,
                      staff: Staff = Depends(admin(Action.READ_CUSTOMERS))) -> Any:
    return await service_read(request.app.state.gateway.customer, "customer",
                              f"/internal/tenants/{staff.tenant_id}/contacts/{contact_id}")


@router.post("/v1/accounts", responses=ANSWERS)
async def create_account(body: NewAccount, request: Request,  # type: ignore[valid-type]
                         staff: Staff = Depends(admin(Action.EDIT_ACCOUNTS)), key: str | None = IdempotencyKey
                         ) -> JSONResponse:
    """A new account (name required; the tax id checked for its country); result_id is its id."""
    return await send_to_customer(request, staff, customer.CreateAccount(
        account_id=body.account_id or uuid4().hex, fields=_fields(body, customer.AccountFields)), key)


@router.patch("/v1/accounts/{account_id}", responses=ANSWERS)
async def edit_account(account_id: Identifier, body: AccountEdit, request: Request,  # type: ignore[valid-type]
                       staff: Staff = Depends(admin(Action.EDIT_ACCOUNTS)), key: str | None = IdempotencyKey
                       ) -> JSONResponse:
    """Inline edit: the fields given are set, those in `clear` emptied, if `version` is still the current one."""
    return await send_to_customer(request, staff, customer.UpdateAccount(
        account_id=account_id, version=body.version, changes=_fields(body, customer.AccountFields),
        clear=body.clear), key)


@router.get("/v1/accounts/{account_id}", response_model=AccountView)
async def get_account(account_id: Identifier, request: Request,
                      staff: Staff = Depends(admin(Action.READ_CUSTOMERS))) -> Any:
    return await service_read(request.app.state.gateway.customer, "customer",
                              f"/internal/tenants/{staff.tenant_id}/accounts/{account_id}")


@router.get("/v1/customers/search", response_model=SearchResult)
async def search(request: Request, q: str = Query(min_length=1, max_length=200), limit: int = Query(20, ge=1, le=100),
                 staff: Staff = Depends(admin(Action.READ_CUSTOMERS))) -> Any:
    """U2: name (words, the last one as a prefix; case and accents ignored), login id, e-mail, phone, company
    name or tax id; exact identifiers first, then whole-word, then prefix matches."""
    return await service_read(request.app.state.gateway.customer, "customer",
                              f"/internal/tenants/{staff.tenant_id}/search", q=q, limit=limit)
