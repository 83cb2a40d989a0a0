"""Cases (K1), quick notes (K2) and service requests (K3) for staff: open a case (from a conversation too),
search, read, edit inline with the version read (a stale one: 409 with the current version in the reason),
link a conversation, a customer's recent cases, a conversation's case; notes on a case, contact or account;
service requests registered from a chat. Writes go to the cases service as commands (its answer is returned);
reads come from its read API. Contacts and accounts named in a write must exist (customer's read API says)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import uuid4

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model
from shared.contracts import cases
from shared.contracts.cases.common import CaseField, ServiceRequestStatus
from shared.contracts.cases.reads import CaseList, CaseView, ConversationCase, ServiceRequestList, ServiceRequestView
from shared.contracts.cases.timeline import EntryKind, TimelinePage
from shared.contracts.catalogue import CASES_COMMANDS
from shared.contracts.envelope import Identifier

from services.gateway.api_admin import admin
from services.gateway.api_staff import ANSWERS, IdempotencyKey, repeated
from services.gateway.auth.permissions import Action, refusal
from services.gateway.commands import request_id_for
from services.gateway.identity import Staff, authorise, raise_refusal, require_staff
from services.gateway.reads import service_read

router = APIRouter(tags=["cases"])

NewCase = create_model("NewCase", __base__=cases.CaseFields,
                       case_id=(Identifier | None, Field(None, description="Your id for it (generated if omitted).")),
                       conversation_id=(Identifier | None, Field(None, description="Open it from this conversation: "
                                                                                   "linked, and its customer taken "
                                                                                   "unless contact_id or account_id "
                                                                                   "is given.")))
CaseEdit = create_model("CaseEdit", __base__=cases.CaseFields,
                        version=(int, Field(ge=1, description="The version you read (a stale one: 409).")),
                        clear=(list[CaseField], Field(default_factory=list, description="Fields to empty.")))


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conversation_id: Identifier = Field(description="The conversation to link (moved from its previous case).")


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000, description="The note.")
    note_id: Identifier | None = Field(None, description="Your id for it (generated if omitted).")


class NewServiceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200, description="What is asked for.")
    details: str = Field("", max_length=5000)
    contact_id: Identifier | None = Field(None, description="The customer (default: the conversation's contact).")
    service_request_id: Identifier | None = Field(None, description="Your id for it (generated if omitted).")


class ServiceRequestChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: ServiceRequestStatus
    version: int = Field(ge=1, description="The version you read (a stale one: 409).")


async def send_to_cases(request: Request, staff: Staff, command: cases.CasesCommand, key: str | None) -> JSONResponse:
    command = command.model_copy(update={"request_id": request_id_for(staff.tenant_id, staff.user_id, key)})
    return await request.app.state.gateway.bus.send(CASES_COMMANDS, command, tenant_id=staff.tenant_id,
                                                    actor=staff.actor)


async def cases_read(request: Request, staff: Staff, path: str, **params: Any) -> Any:
    params = {k: v for k, v in params.items() if v is not None}
    return await service_read(request.app.state.gateway.cases, "cases",
                              f"/internal/tenants/{staff.tenant_id}{path}", **params)


async def must_exist(request: Request, staff: Staff, kind: str, record_id: str | None, *, status: int = 422) -> None:
    """A contact or account named in a write exists in the staff member's tenant (customer's read API)."""
    if record_id is None:
        return
    try:
        await service_read(request.app.state.gateway.customer, "customer",
                           f"/internal/tenants/{staff.tenant_id}/{kind}s/{record_id}")
    except HTTPException as exc:
        if exc.status_code == 404:
            raise HTTPException(status, detail={"error": "invalid_argument" if status == 422 else "not_found",
                                                "detail": f"{kind} {record_id} does not exist"}) from None
        raise


def _fields(body: Any) -> cases.CaseFields:
    return cases.CaseFields.model_validate(body.model_dump(include=set(cases.CaseFields.model_fields),
                                                           exclude_none=True))


@router.post("/v1/cases", responses=ANSWERS)
async def open_case(body: NewCase, request: Request, staff: Staff = Depends(require_staff),  # type: ignore[valid-type]
                    key: str | None = IdempotencyKey) -> JSONResponse:
    """A new case (title required; priority normal and status new unless given); result_id is its id. From a
    conversation: allowed to whoever may work or supervise it (work_cases)."""
    if (first := await repeated(request, staff, key)) is not None:
        return first
    if body.conversation_id is not None:
        await authorise(request.app.state.gateway.db, staff, body.conversation_id, Action.WORK_CASES)
    elif (refused := refusal(staff.role, Action.EDIT_CASES)) is not None:
        raise_refusal(refused)
    await must_exist(request, staff, "contact", body.contact_id)
    await must_exist(request, staff, "account", body.account_id)
    return await send_to_cases(request, staff, cases.OpenCase(
        case_id=body.case_id or uuid4().hex, fields=_fields(body), conversation_id=body.conversation_id), key)


@router.patch("/v1/cases/{case_id}", responses=ANSWERS)
async def edit_case(case_id: Identifier, body: CaseEdit, request: Request,  # type: ignore[valid-type]
                    staff: Staff = Depends(admin(Action.EDIT_CASES)), key: str | None = IdempotencyKey
                    ) -> JSONResponse:
    """Inline edit: the fields given are set, those in `clear` emptied, if `version` is still the current one;
    the status moves only to one of the case's `allowed_statuses`."""
    await must_exist(request, staff, "contact", body.contact_id)
    await must_exist(request, staff, "account", body.account_id)
    return await send_to_cases(request, staff, cases.EditCase(case_id=case_id, version=body.version,
                                                              changes=_fields(body), clear=body.clear), key)


@router.get("/v1/cases/{case_id}", response_model=CaseView)
async def get_case(case_id: Identifier, request: Request, staff: Staff = Depends(admin(Action.READ_CASES))) -> Any:
    return await cases_read(request, staff, f"/cases/{case_id}")


@router.get("/v1/cases", response_model=CaseList)
async def search_cases(request: Request, q: Annotated[str, Query(min_length=1, max_length=200)],
                       limit: Annotated[int, Query(ge=1, le=100)] = 20,
                       staff: Staff = Depends(admin(Action.READ_CASES))) -> Any:
    """By number (CAS-000042 or 42), id, contact or account id, title words, customer name; ranked."""
    return await cases_read(request, staff, "/cases", q=q, limit=limit)


@router.post("/v1/cases/{case_id}/conversations", responses=ANSWERS)
async def link_conversation(case_id: Identifier, body: Link, request: Request, staff: Staff = Depends(require_staff),
                            key: str | None = IdempotencyKey) -> JSONResponse:
    """Link a conversation one may work or supervise to a case (moving it from the case it had)."""
    if (first := await repeated(request, staff, key)) is not None:
        return first
    await authorise(request.app.state.gateway.db, staff, body.conversation_id, Action.WORK_CASES)
    return await send_to_cases(request, staff, cases.LinkConversation(case_id=case_id,
                                                                      conversation_id=body.conversation_id), key)


@router.get("/v1/conversations/{conversation_id}/case", response_model=ConversationCase)
async def conversation_case(conversation_id: Identifier, request: Request,
                            staff: Staff = Depends(require_staff)) -> Any:
    """The case the conversation is linked to (case_id None: none yet)."""
    await authorise(request.app.state.gateway.db, staff, conversation_id, Action.READ_CONVERSATION)
    return await cases_read(request, staff, f"/conversations/{conversation_id}/case")


@router.get("/v1/contacts/{contact_id}/cases", response_model=CaseList)
async def contact_cases(contact_id: Identifier, request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 10,
                        staff: Staff = Depends(admin(Action.READ_CASES))) -> Any:
    """The contact's recent cases, newest first."""
    await must_exist(request, staff, "contact", contact_id, status=404)
    return await cases_read(request, staff, f"/contacts/{contact_id}/cases", limit=limit)


@router.get("/v1/accounts/{account_id}/cases", response_model=CaseList)
async def account_cases(account_id: Identifier, request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 10,
                        staff: Staff = Depends(admin(Action.READ_CASES))) -> Any:
    """The account's recent cases, newest first."""
    await must_exist(request, staff, "account", account_id, status=404)
    return await cases_read(request, staff, f"/accounts/{account_id}/cases", limit=limit)


async def _record_exists(request: Request, staff: Staff, kind: str, record_id: str) -> None:
    if kind == "case":
        await cases_read(request, staff, f"/cases/{record_id}")
    else:
        await must_exist(request, staff, kind, record_id, status=404)


def _note_route(kind: Literal["case", "contact", "account"]) -> None:
    async def add_note(record_id: Identifier, body: Note, request: Request,
                       staff: Staff = Depends(admin(Action.EDIT_CASES)), key: str | None = IdempotencyKey
                       ) -> JSONResponse:
        await _record_exists(request, staff, kind, record_id)
        return await send_to_cases(request, staff, cases.AddQuickNote(
            note_id=body.note_id or uuid4().hex, record_kind=kind, record_id=record_id, text=body.text), key)

    router.add_api_route(f"/v1/{kind}s/{{record_id}}/notes", add_note, methods=["POST"], responses=ANSWERS,
                         name=f"add_{kind}_note", summary=f"Add a quick note to a {kind}",
                         description=f"A quick note on the {kind} (its timeline shows it); result_id is the note's id.")


for _kind in ("case", "contact", "account"):
    _note_route(_kind)  # type: ignore[arg-type]


def _timeline_route(kind: Literal["case", "contact", "account"]) -> None:
    async def timeline(record_id: Identifier, request: Request, cursor: str | None = Query(None, max_length=500),
                       limit: Annotated[int, Query(ge=1, le=100)] = 10,
                       only: Annotated[list[EntryKind] | None, Query(description="Only entries of these kinds, "
                                                                     "e.g. quick_note.")] = None,
                       staff: Staff = Depends(admin(Action.READ_CASES))) -> Any:
        await _record_exists(request, staff, kind, record_id)
        return await cases_read(request, staff, f"/timeline/{kind}/{record_id}", cursor=cursor, limit=limit,
                                only=only)

    router.add_api_route(f"/v1/{kind}s/{{record_id}}/timeline", timeline, methods=["GET"], response_model=TimelinePage,
                         name=f"{kind}_timeline", summary=f"A {kind}'s timeline",
                         responses={404: {"description": f"No such {kind}."},
                                    422: {"description": "A cursor this timeline did not give out."}},
                         description=f"The {kind}'s timeline (K2): conversations started, assigned, transferred "
                                     f"and ended, case changes, quick notes, service requests; newest first; "
                                     f"`next_cursor` for the older page.")


for _kind in ("case", "contact", "account"):
    _timeline_route(_kind)  # type: ignore[arg-type]


@router.post("/v1/conversations/{conversation_id}/service-requests", responses=ANSWERS)
async def register_service_request(conversation_id: Identifier, body: NewServiceRequest, request: Request,
                                   staff: Staff = Depends(require_staff), key: str | None = IdempotencyKey
                                   ) -> JSONResponse:
    """Register a service request from a chat (K3); result_id is its id."""
    if (first := await repeated(request, staff, key)) is not None:
        return first
    await authorise(request.app.state.gateway.db, staff, conversation_id, Action.WORK_CASES)
    await must_exist(request, staff, "contact", body.contact_id)
    return await send_to_cases(request, staff, cases.RegisterServiceRequest(
        service_request_id=body.service_request_id or uuid4().hex, conversation_id=conversation_id,
        title=body.title, details=body.details, contact_id=body.contact_id), key)


@router.get("/v1/conversations/{conversation_id}/service-requests", response_model=ServiceRequestList)
async def conversation_service_requests(conversation_id: Identifier, request: Request,
                                        staff: Staff = Depends(require_staff)) -> Any:
    await authorise(request.app.state.gateway.db, staff, conversation_id, Action.READ_CONVERSATION)
    return await cases_read(request, staff, "/service-requests", conversation_id=conversation_id)


@router.get("/v1/service-requests/{service_request_id}", response_model=ServiceRequestView)
async def get_service_request(service_request_id: Identifier, request: Request,
                              staff: Staff = Depends(admin(Action.READ_CASES))) -> Any:
    return await cases_read(request, staff, f"/service-requests/{service_request_id}")


@router.patch("/v1/service-requests/{service_request_id}", responses=ANSWERS)
async def change_service_request(service_request_id: Identifier, body: ServiceRequestChange, request: Request,
                                 staff: Staff = Depends(admin(Action.EDIT_CASES)), key: str | None = IdempotencyKey
                                 ) -> JSONResponse:
    """Move it along registered -> in_progress -> done (or cancelled), against the version read."""
    return await send_to_cases(request, staff, cases.ChangeServiceRequest(
        service_request_id=service_request_id, version=body.version, status=body.status), key)
