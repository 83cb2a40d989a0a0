"""Chat's internal attachment API (for the gateway; never public) and the sweep of files never sent.

Files take HTTP, not Kafka: the gateway, once it has authorised the caller, streams the bytes here; chat
checks the tenant's limits, the name and the type, stores them (adapters/blobs.py) as an *unattached* file
of that conversation and uploader, and answers its id. Storing changes no conversation and emits nothing;
SendMessage's attachment_ids attach files to a message (a command, through Kafka as usual)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import quote
from uuid import uuid4

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.requests import ClientDisconnect

from services.chat.adapters.blobs import BlobStore, Upload
from services.chat.adapters.queries import ChatQueries
from services.chat.domain.attachments import Refused, clean_name, normalise_type
from shared.contracts.chat.attachments import AttachmentSettingsView, UploadedAttachment
from shared.contracts.chat.common import Sender
from shared.logging import get_logger

log = get_logger(__name__)
Party = Literal["customer", "agent"]
REFUSALS = {404: {"description": "No such conversation (or attachment visible to this reader) in this tenant."},
            413: {"description": "Larger than the tenant's limit (the detail says which)."},
            422: {"description": "Name, type or content refused (the detail says why)."}}


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """Read the rest of a refused body, so the sender gets the answer instead of a broken connection (the
    gateway bounds what it sends)."""
    try:
        async for _ in chunks:
            pass
    except ClientDisconnect:
        pass


def attachments_api(store: BlobStore, queries: ChatQueries, *, keep_s: int,
                    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                    new_id: Callable[[], str] = lambda: uuid4().hex) -> APIRouter:
    api = APIRouter(prefix="/internal/tenants/{tenant}", tags=["attachments"])

    @api.get("/attachment-settings")
    async def get_attachment_settings(tenant: str) -> AttachmentSettingsView:
        """The tenant's attachment limits (the defaults, configured=false, until an admin sets them)."""
        policy = await store.policy(tenant)
        return AttachmentSettingsView(max_bytes=policy.max_bytes, allowed_types=list(policy.allowed_types),
                                      configured=policy.configured)

    @api.post("/conversations/{conversation_id}/attachments", responses=REFUSALS)
    async def upload(tenant: str, conversation_id: str, request: Request,
                     name: Annotated[str, Query(min_length=1, max_length=1000)],
                     uploader_kind: Party, uploader_id: Annotated[str, Query(min_length=1, max_length=128)]
                     ) -> UploadedAttachment:
        """Store the request body (the file, its type in Content-Type) as an unattached file of the
        conversation, uploaded by `uploader_kind`/`uploader_id`; kept `keep_s` unless a message attaches it."""
        chunks = request.stream()
        if await queries.conversation(tenant, conversation_id) is None:
            await _drain(chunks)
            raise HTTPException(404, f"conversation {conversation_id} does not exist in tenant {tenant}")
        policy = await store.policy(tenant)
        try:
            content_type = normalise_type(request.headers.get("content-type"))
            policy.check_type(content_type)
            declared = request.headers.get("content-length")
            if declared and declared.isdigit():
                policy.check_size(int(declared))
            stored = await store.store(Upload(tenant_id=tenant, attachment_id=new_id(),
                                              conversation_id=conversation_id,
                                              uploader=Sender(kind=uploader_kind, id=uploader_id),
                                              name=clean_name(name), content_type=content_type), chunks, policy)
        except Refused as refused:
            await _drain(chunks)
            return JSONResponse({"detail": refused.reason}, status_code=refused.status)  # type: ignore[return-value]
        except ClientDisconnect:  # the gateway gave up (its own cap): nothing was kept
            return JSONResponse({"detail": "the upload was cut off"}, status_code=400)  # type: ignore[return-value]
        return UploadedAttachment(**stored.info.model_dump(), sha256=stored.sha256, uploaded_at=stored.uploaded_at,
                                  expires_at=stored.uploaded_at + timedelta(seconds=keep_s))

    @api.get("/conversations/{conversation_id}/attachments/{attachment_id}", responses=REFUSALS,
             response_class=StreamingResponse)
    async def download(tenant: str, conversation_id: str, attachment_id: str, reader_kind: Party,
                       reader_id: Annotated[str, Query(min_length=1, max_length=128)],
                       include_private: bool = False) -> StreamingResponse:
        """The file's bytes with its stored type, if this reader may have it: a file not sent yet only by its
        uploader, one of a private note only with include_private. Its name (percent-encoded UTF-8) and
        SHA-256 come in X-Attachment-Name and X-Attachment-Sha256."""
        found = await store.find(tenant, attachment_id)
        reader = Sender(kind=reader_kind, id=reader_id)
        if found is None or not found.visible_to(conversation_id=conversation_id, reader=reader,
                                                 include_private=include_private):
            raise HTTPException(404, f"attachment {attachment_id} is not one this reader may have in conversation "
                                     f"{conversation_id} of tenant {tenant}")
        return StreamingResponse(store.read(tenant, attachment_id), media_type=found.content_type, headers={
            "content-length": str(found.size), "x-attachment-name": quote(found.name, safe=""),
            "x-attachment-sha256": found.sha256, "x-attachment-id": found.attachment_id})

    return api


async def sweep_unattached(store: BlobStore, *, keep_s: int, every_s: float,
                           clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
    """Delete uploads no message attached within `keep_s`, every `every_s` (a timer loop of the runtime)."""
    while True:
        try:
            removed = await store.sweep(uploaded_before=clock() - timedelta(seconds=keep_s))
            if removed:
                log.info("unattached uploads deleted", count=removed, keep_s=keep_s)
        except Exception as exc:  # MongoDB away: try again next round
            log.warning("attachment sweep failed", error=repr(exc))
        await asyncio.sleep(every_s)
