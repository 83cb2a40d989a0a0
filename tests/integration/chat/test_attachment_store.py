"""Chat's attachment store on the real mongod (GridFS): bytes streamed in and out unchanged across chunks, a
refused upload leaves nothing behind, and the sweep deletes old unattached files but never one a message
attached, whichever of the two comes first."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from services.chat.adapters.blobs import CHUNKS, FILES, BlobStore, MongoAttachments, Upload
from services.chat.domain.attachments import AttachmentPolicy, Refused
from shared.contracts.chat.common import Sender
from shared.mongo import MongoUnitOfWork

pytestmark = pytest.mark.integration
CUSTOMER = Sender(kind="customer", id="cu1")


@pytest.fixture
async def mongo(infrastructure, unique) -> AsyncIterator[tuple[AsyncMongoClient, str]]:
    client: AsyncMongoClient = AsyncMongoClient(infrastructure.mongo_url, tz_aware=True)
    yield client, f"chat-files-{unique}"
    await client.drop_database(f"chat-files-{unique}")
    await client.close()


def upload(attachment_id: str, content_type: str = "image/png") -> Upload:
    return Upload(tenant_id="t1", attachment_id=attachment_id, conversation_id="c1", uploader=CUSTOMER,
                  name="scan.png", content_type=content_type)


async def pieces(data: bytes, size: int = 70_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def test_a_file_goes_in_and_out_unchanged_in_chunks(mongo):
    client, name = mongo
    store = BlobStore(client[name])
    await store.ensure_indexes()
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(700_000)  # three GridFS chunks
    stored = await store.store(upload("f1"), pieces(data), AttachmentPolicy())
    assert stored.size == len(data) and stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.message_id is None and stored.uploader == CUSTOMER
    assert b"".join([chunk async for chunk in store.read("t1", "f1")]) == data
    assert await store.find("t2", "f1") is None  # another tenant's id space
    assert [chunk async for chunk in store.read("t2", "f1")] == []


@pytest.mark.parametrize(("data", "policy", "status"), [
    (b"\x89PNG\r\n\x1a\n" + b"x" * 5000, AttachmentPolicy(max_bytes=4000), 413),  # over the limit mid-stream
    (b"<html>" + b"x" * 5000, AttachmentPolicy(), 422),  # not a PNG
    (b"", AttachmentPolicy(), 422),  # empty
])
async def test_a_refused_upload_leaves_no_file_and_no_chunks(mongo, data, policy, status):
    client, name = mongo
    store = BlobStore(client[name])
    with pytest.raises(Refused) as refused:
        await store.store(upload("f2"), pieces(data, 1000), policy)
    assert refused.value.status == status
    assert await client[name][FILES].count_documents({}) == 0
    assert await client[name][CHUNKS].count_documents({}) == 0


async def test_the_sweep_deletes_old_unattached_files_and_keeps_attached_ones(mongo):
    client, name = mongo
    store = BlobStore(client[name])
    await store.ensure_indexes()
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(1000)
    for attachment_id in ("unsent", "sent"):
        await store.store(upload(attachment_id), pieces(png), AttachmentPolicy())
    uow = MongoUnitOfWork(client, name)

    async def attach(tx):
        repo = MongoAttachments(tx, "t1")
        found = await repo.get("sent")
        await repo.save_attached(found.attached_to(conversation_id="c1", sender=CUSTOMER, message_id="m1",
                                                   private=False))
    await uow.run(attach, message_id=None)
    assert await store.sweep(uploaded_before=datetime.now(UTC) - timedelta(hours=1)) == 0  # nothing old yet
    assert await store.sweep(uploaded_before=datetime.now(UTC) + timedelta(hours=2)) == 1
    assert await store.find("t1", "unsent") is None
    assert await client[name][CHUNKS].count_documents({"files_id": "t1|unsent"}) == 0
    assert (await store.find("t1", "sent")).message_id == "m1"
    assert b"".join([a async for a in store.read("t1", "sent")]) == png

    async def attach_swept(tx):  # a message naming the swept file finds nothing to attach (it is refused)
        return await MongoAttachments(tx, "t1").get("unsent")
    assert await uow.run(attach_swept, message_id=None) is None
