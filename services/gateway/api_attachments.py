"""Files in conversations (C9) at the edge: upload (streamed to chat's internal attachment API after the same
check as sending a message), download (the same check as reading the conversation's messages; always a
download, never rendered inline), and the tenant's limits (admin).

An upload is the request body itself (the file; its type in Content-Type, its name in `?name=`), streamed
through without being held whole: a body over the tenant's limit or the gateway's hard cap is refused (413)
as soon as its Content-Length or its running count says so. The answer's `attachment_id` then goes into a
message's `attachment_ids` (the usual message routes); a file no message takes is deleted after an hour."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote, unquote

import httpx
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, StringConstraints
from shared.contracts import chat
from shared.contracts.catalogue import CHAT_COMMANDS
from shared.contracts.chat.attachments import CONTENT_TYPE, MAX_ATTACHMENT_BYTES, AttachmentSettingsView
from shared.contracts.envelope import Identifier
from starlette.background import BackgroundTask

from services.gateway.api_admin import admin
from services.gateway.adapters.store import CONVERSATIONS
from services.gateway.api_staff import ANSWERS, IdempotencyKey
from services.gateway.api_widget import Appeal, Identity, Started, identify
from services.gateway.api_widget import _start as start_conversation
from services.gateway.auth.permissions import NOT_FOUND, Action, allowed
from services.gateway.commands import new_id_for, request_id_for
from services.gateway.identity import Customer, Staff, authorise, authorise_customer, raise_refusal, require_customer, \
    require_staff
from services.gateway.reads import chat_read

router = APIRouter(tags=["attachments"])
FileName = Annotated[str, Query(min_length=1, max_length=1000, description="The file's name (any path is dropped).")]
UPLOAD_ANSWERS: dict[int | str, dict[str, Any]] = {
    201: {"description": "Stored, not yet sent: put attachment_id in a message's attachment_ids within the hour."},
    404: {"description": "Not found."},
    413: {"description": "Larger than the tenant allows (or the gateway's hard cap); the detail says the limit."},
    422: {"description": "Name, type or content refused; the detail says why."},
}
INERT = "application/octet-stream"
ACTIVE_MARKERS = ("html", "svg", "script", "xsl", "x-sh", "x-csh", "php", "python", "perl", "wasm")


def served_type(stored: str) -> str:
    """The Content-Type a download is served with: the stored type, unless a browser could run or render it as
    a document (HTML, SVG, XML, scripts, any text but plain and CSV, multipart): then application/octet-stream."""
    bare = stored.split(";", 1)[0].strip().lower()
    top, _, sub = bare.partition("/")
    if not sub or top in ("multipart", "message") or (top == "text" and bare not in ("text/plain", "text/csv")):
        return INERT
    if sub == "xml" or sub.endswith("+xml") or any(marker in sub for marker in ACTIVE_MARKERS):
        return INERT
    return bare


def content_disposition(name: str) -> str:
    """Always an attachment: an ASCII fallback name and the exact name as RFC 5987 UTF-8."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name) or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def download_headers(*, name: str, size: str | None, sha256: str | None) -> dict[str, str]:
    headers = {"content-disposition": content_disposition(name), "x-content-type-options": "nosniff",
               "content-security-policy": "default-src 'none'; sandbox", "cache-control": "private, no-store",
               "cross-origin-resource-policy": "same-origin"}
    if size:
        headers["content-length"] = size
    if sha256:
        headers["x-attachment-sha256"] = sha256
    return headers


class BodyTooLarge(Exception):
    pass


def _refused(status: int, error: str, detail: str) -> HTTPException:
    return HTTPException(status, detail={"error": error, "detail": detail})


def _too_large(limit: int) -> HTTPException:
    return _refused(413, "too_large", f"the file is larger than the limit of {limit} bytes")


async def _upload(request: Request, tenant_id: str, conversation_id: str, *, uploader_kind: str, uploader_id: str,
                  name: str) -> JSONResponse:
    gw = request.app.state.gateway
    limits = await chat_read(gw, f"/internal/tenants/{tenant_id}/attachment-settings")
    limit = min(gw.settings.attachment_max_body_bytes, limits["max_bytes"])
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)

    async def body() -> Any:
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit:  # cut off: chat sees the upload end early and keeps nothing
                raise BodyTooLarge
            yield chunk

    headers = {"content-type": request.headers.get("content-type") or INERT}
    if declared:
        headers["content-length"] = declared
    try:
        answer = await gw.chat.post(
            f"/internal/tenants/{tenant_id}/conversations/{conversation_id}/attachments", content=body(),
            params={"name": name, "uploader_kind": uploader_kind, "uploader_id": uploader_id}, headers=headers,
            timeout=httpx.Timeout(120.0, connect=5.0))
    except BodyTooLarge:
        raise _too_large(limit) from None
    except httpx.HTTPError as exc:
        raise _refused(503, "unavailable", f"chat is not answering ({type(exc).__name__})") from None
    if answer.status_code == 200:
        return JSONResponse(answer.json(), status_code=201)
    if answer.status_code == 404:
        raise_refusal(NOT_FOUND)
    if answer.status_code in (413, 422):
        raise _refused(answer.status_code, "too_large" if answer.status_code == 413 else "file_refused",
                       answer.json()["detail"])
    raise _refused(502, "upstream", f"chat answered {answer.status_code}")


async def _download(request: Request, tenant_id: str, conversation_id: str, attachment_id: str, *,
                    reader_kind: str, reader_id: str, include_private: bool) -> StreamingResponse:
    gw = request.app.state.gateway
    upstream_request = gw.chat.build_request(
        "GET", f"/internal/tenants/{tenant_id}/conversations/{conversation_id}/attachments/{attachment_id}",
        params={"reader_kind": reader_kind, "reader_id": reader_id, "include_private": str(include_private).lower()},
        timeout=httpx.Timeout(120.0, connect=5.0))
    try:
        upstream = await gw.chat.send(upstream_request, stream=True)
    except httpx.HTTPError as exc:
        raise _refused(503, "unavailable", f"chat is not answering ({type(exc).__name__})") from None
    if upstream.status_code != 200:
        await upstream.aclose()
        if upstream.status_code == 404:  # another tenant's, conversation's or uploader's: as if it did not exist
            raise_refusal(NOT_FOUND)
        raise _refused(502, "upstream", f"chat answered {upstream.status_code}")
    headers = download_headers(name=unquote(upstream.headers.get("x-attachment-name", "file")),
                               size=upstream.headers.get("content-length"),
                               sha256=upstream.headers.get("x-attachment-sha256"))
    return StreamingResponse(upstream.aiter_raw(), media_type=served_type(upstream.headers.get("content-type", INERT)),
                             headers=headers, background=BackgroundTask(upstream.aclose))


# --- agents ------------------------------------------------------------------------------------------------

C = "/v1/conversations/{conversation_id}/attachments"


@router.post(C, status_code=201, responses=UPLOAD_ANSWERS)
async def staff_upload(conversation_id: Identifier, request: Request, name: FileName,
                       staff: Staff = Depends(require_staff)) -> JSONResponse:
    """Upload a file to a conversation one may write in (the body is the file, Content-Type its type)."""
    await authorise(request.app.state.gateway.db, staff, conversation_id, Action.SEND_MESSAGE)
    return await _upload(request, staff.tenant_id, conversation_id, uploader_kind="agent", uploader_id=staff.user_id,
                         name=name)


@router.get(C + "/{attachment_id}", response_class=StreamingResponse,
            responses={200: {"content": {INERT: {}}, "description": "The file, as a download."}, 404: {}})
async def staff_download(conversation_id: Identifier, attachment_id: Identifier, request: Request,
                         staff: Staff = Depends(require_staff)) -> StreamingResponse:
    """A file of a conversation whose messages one may read (a private note's file only with the notes)."""
    access = await authorise(request.app.state.gateway.db, staff, conversation_id, Action.READ_MESSAGES)
    return await _download(request, staff.tenant_id, conversation_id, attachment_id, reader_kind="agent",
                           reader_id=staff.user_id,
                           include_private=allowed(staff.role, Action.READ_PRIVATE_NOTES, access.relations))


# --- the customer's widget ------------------------------------------------------------------------------

W = "/v1/widget/conversations/{conversation_id}/attachments"


@router.post(W, status_code=201, responses=UPLOAD_ANSWERS)
async def customer_upload(conversation_id: Identifier, request: Request, name: FileName,
                          customer: Customer = Depends(require_customer)) -> JSONResponse:
    """Upload a file to one's own conversation (the body is the file, Content-Type its type)."""
    authorise_customer(customer, conversation_id)
    return await _upload(request, customer.tenant_id, conversation_id, uploader_kind="customer",
                         uploader_id=customer.customer_id, name=name)


@router.get(W + "/{attachment_id}", response_class=StreamingResponse,
            responses={200: {"content": {INERT: {}}, "description": "The file, as a download."}, 404: {}})
async def customer_download(conversation_id: Identifier, attachment_id: Identifier, request: Request,
                            customer: Customer = Depends(require_customer)) -> StreamingResponse:
    """A file of one's own conversation (never a private note's)."""
    authorise_customer(customer, conversation_id)
    return await _download(request, customer.tenant_id, conversation_id, attachment_id, reader_kind="customer",
                           reader_id=customer.customer_id, include_private=False)


# --- the tenant's limits (admin) -------------------------------------------------------------------------

class AttachmentLimits(BaseModel):
    max_bytes: int = Field(ge=1, le=MAX_ATTACHMENT_BYTES, description="Largest file accepted, in bytes.")
    allowed_types: list[Annotated[str, StringConstraints(pattern=CONTENT_TYPE)]] = Field(
        min_length=1, max_length=100, description="Content types accepted, lower case without parameters.")


@router.get("/v1/admin/attachments", response_model=AttachmentSettingsView, tags=["admin"])
async def read_limits(request: Request, staff: Staff = Depends(admin(Action.MANAGE_ATTACHMENTS))) -> Any:
    """The tenant's attachment limits (10 MiB and images, PDF, plain text and office files until set)."""
    return await chat_read(request.app.state.gateway, f"/internal/tenants/{staff.tenant_id}/attachment-settings")


@router.put("/v1/admin/attachments", responses=ANSWERS, tags=["admin"])
async def set_limits(body: AttachmentLimits, request: Request, key: str | None = IdempotencyKey,
                     staff: Staff = Depends(admin(Action.MANAGE_ATTACHMENTS))) -> JSONResponse:
    """Replace the tenant's attachment limits (chat's answer is returned)."""
    return await request.app.state.gateway.bus.send(CHAT_COMMANDS, chat.ConfigureAttachments(
        max_bytes=body.max_bytes, allowed_types=body.allowed_types,
        request_id=request_id_for(staff.tenant_id, staff.user_id, key)), tenant_id=staff.tenant_id, actor=staff.actor)


# --- an appeal opened by a file (C9) -----------------------------------------------------------------------

class FileSender(BaseModel):
    """Who sends a file from the widget without naming a conversation (as the appeal route's body says it)."""
    visitor_token: str | None = None
    identity: Identity | None = None
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)


class FileAppeal(Appeal):
    attachment: dict[str, Any] = Field(description="The stored file, as the upload route answers it.")


@router.post("/v1/widget/{tenant_id}/attachments", response_model=FileAppeal, responses=UPLOAD_ANSWERS)
async def appeal_file(tenant_id: Identifier, request: Request, name: FileName,
                      queue_id: Annotated[Identifier, Query(description="Where a new appeal is routed.")],
                      client_message_id: Annotated[Identifier, Query(description="Your id for this message.")],
                      visitor_token: Annotated[str | None, Header(alias="X-Visitor-Token", max_length=300)] = None,
                      identity_user: Annotated[Identifier | None, Header(alias="X-Identity-User")] = None,
                      identity_expires: Annotated[int | None, Header(alias="X-Identity-Expires")] = None,
                      identity_mac: Annotated[str | None, Header(alias="X-Identity-Mac", max_length=128)] = None,
                      ) -> Any:
    """C9: a customer sends a file without a conversation (the body is the file, as for the upload routes; who
    it is comes in headers, as the appeal route's body has it): it goes to the customer's open conversation,
    or a new appeal opens with it. The limits and the type are checked before an appeal opens; a file refused
    for its content after that leaves the appeal open without it."""
    gw = request.app.state.gateway
    who = FileSender(visitor_token=visitor_token, identity=Identity(
        user_id=identity_user, expires_at=identity_expires, mac=identity_mac) if identity_user and identity_expires
        is not None and identity_mac else None)
    customer, new_visitor_token = await identify(gw, tenant_id, who)
    limits = await chat_read(gw, f"/internal/tenants/{tenant_id}/attachment-settings")
    declared_type = (request.headers.get("content-type") or INERT).split(";", 1)[0].strip().lower()
    if declared_type not in limits["allowed_types"]:
        raise _refused(422, "file_refused", f"files of type {declared_type} are not accepted here")
    limit, declared = min(gw.settings.attachment_max_body_bytes, limits["max_bytes"]), request.headers.get(
        "content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    rid = request_id_for(tenant_id, customer.customer_id, f"appeal-file:{client_message_id}")
    open_one = await gw.db[CONVERSATIONS].find_one(
        {"tenant_id": tenant_id, "customer_id": customer.customer_id, "state": {"$ne": "closed"}},
        sort=[("started_at", -1)])
    opened = open_one is None or await gw.bus.stored_answer(tenant_id, rid) is not None
    if opened:
        started = await start_conversation(gw, tenant_id, customer, new_visitor_token, chat.StartConversation(
            conversation_id=new_id_for(rid), queue_id=queue_id, customer=customer, request_id=rid))
        if not isinstance(started, Started):
            return started
        conversation_id = started.conversation_id
    else:
        conversation_id = open_one["conversation_id"]
    stored = await _upload(request, tenant_id, conversation_id, uploader_kind="customer",
                           uploader_id=customer.customer_id, name=name)
    attachment = json.loads(bytes(stored.body))
    answer = await gw.bus.send(CHAT_COMMANDS, chat.SendMessage(
        conversation_id=conversation_id, client_message_id=client_message_id,
        attachment_ids=[attachment["attachment_id"]], request_id=f"{rid}-message"),
        tenant_id=tenant_id, actor=Customer(tenant_id, customer.customer_id, conversation_id).actor)
    if answer.status_code != 200:
        return answer
    return FileAppeal(status="accepted", conversation_id=conversation_id, customer_id=customer.customer_id,
                      customer_name=customer.name, visitor_token=new_visitor_token, opened=opened,
                      attachment=attachment, conversation_token=gw.tokens.issue_customer(
                          customer_id=customer.customer_id, tenant_id=tenant_id, conversation_id=conversation_id))
