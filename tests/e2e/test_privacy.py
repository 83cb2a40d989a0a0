"""Privacy through the gateway: a customer chats (a card number: masked, its original kept) and sends a file, the
conversation is linked to a contact (U5), the contact's export holds the contact, the conversation, its
messages, the file's metadata and (for the admin) the originals; after the admin erases the contact the
originals are gone, every message reads "[erased]", the file's download is 404, the desk's views and replayed
frames are blanked, and the contact's export is 404. Erasing again is harmless; an unknown or another tenant's
contact is 404; only admins erase, only admins and supervisors export."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.testing.tenants import PASSWORD, Tenant
from tests.e2e.helpers import accept, answered, available, message
from tests.e2e.test_attachments import download, upload
from tests.e2e.test_masking import new_card

pytestmark = pytest.mark.e2e

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(2_000)


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy, with a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if found := await check():
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout_s} s: {what}")


async def test_a_contacts_export_and_erasure_across_the_services(tenant, system):
    card, masked_card = new_card()
    alice = await tenant.agent("alice")
    supervisor = await tenant.agent("sue", role="supervisor")
    await tenant.queue("support", ["alice"])
    assert (await tenant.admin.patch("/v1/admin/staff/admin", {"supervises": ["support"]})).status_code == 200
    desk = await tenant.stream(alice)
    await available(alice)

    customer, started = await tenant.customer("support", message=f"My card {card} was charged twice",
                                              prechat={"Your name": "Dana"})
    cid, customer_id = started["conversation_id"], started["customer_id"]
    await accept(alice, desk, cid)
    up = await upload(customer, f"/v1/widget/conversations/{cid}/attachments", PNG, name="statement.png",
                      content_type="image/png")
    assert up.status_code == 201, up.text
    file_id = up.json()["attachment_id"]
    sent = await customer.post(f"/v1/widget/conversations/{cid}/messages",
                               {"client_message_id": "m2", "text": "Here is the statement", "attachment_ids": [file_id]})
    assert sent.status_code == 200, sent.text
    await desk.wait_for(message("Here is the statement"), what="the file's message on the desk")
    file_path = f"/v1/conversations/{cid}/attachments/{file_id}"
    assert (await download(tenant.admin, file_path)).content == PNG

    # the conversation's customer is linked to a contact (U5)
    created = await answered(tenant.admin, "/v1/contacts", {"full_name": "Dana Ozola",
                                                           "email": f"dana.{uuid.uuid4().hex[:6]}@example.lv"})
    contact_id = created["result_id"]
    await answered(alice, f"/v1/conversations/{cid}/link", {"contact_id": contact_id})

    async def exported() -> dict[str, Any] | None:
        response = await tenant.admin.get(f"/v1/contacts/{contact_id}/export")
        assert response.status_code == 200, response.text
        return response.json() if response.json()["customer_ids"] == [customer_id] else None
    export = await until(exported, "the link in the contact's export")
    assert export["contact"]["full_name"] == "Dana Ozola" and export["exported_by"] == "admin"
    chats = export["conversations"]
    assert [c["customer_id"] for c in chats] == [customer_id] and chats[0]["originals_refused"] is None
    [held] = [c for c in chats[0]["conversations"] if c["conversation"]["conversation_id"] == cid]
    texts = [m["text"] for m in held["messages"]]
    assert f"My card {masked_card} was charged twice" in texts and "Here is the statement" in texts
    assert card in json.dumps(held["originals"])  # the admin's role may read originals (the default policy)
    assert [(a["attachment_id"], a["name"], a["size"]) for a in held["attachments"]] == [
        (file_id, "statement.png", len(PNG))]
    by_supervisor = await supervisor.get(f"/v1/contacts/{contact_id}/export")
    assert by_supervisor.status_code == 200, by_supervisor.text
    assert "admin" in by_supervisor.json()["conversations"][0]["originals_refused"]
    assert card not in by_supervisor.text
    assert (await alice.get(f"/v1/contacts/{contact_id}/export")).status_code == 403

    # only an admin erases
    for caller in (alice, supervisor):
        assert (await caller.request("DELETE", f"/v1/contacts/{contact_id}")).status_code == 403
    erased = await tenant.admin.request("DELETE", f"/v1/contacts/{contact_id}")
    assert erased.status_code == 200 and erased.json()["result_id"] == contact_id, erased.text

    async def transcript_erased() -> list[dict[str, Any]] | None:
        page = (await tenant.admin.get(f"/v1/conversations/{cid}/messages")).json()["messages"]
        return page if {m["text"] for m in page} == {"[erased]"} else None
    await until(transcript_erased, "every message of the conversation erased")
    originals = await tenant.admin.get(f"/v1/agent/conversations/{cid}/messages", originals="true")
    assert originals.status_code in (200, 404), originals.text
    if originals.status_code == 200:
        assert card not in originals.text and masked_card not in originals.text
        assert {m["text"] for m in originals.json()["messages"]} == {"[erased]"}
        assert not any(m["masked"] for m in originals.json()["messages"])
    assert (await download(tenant.admin, file_path)).status_code == 404
    assert (await tenant.admin.get(f"/v1/contacts/{contact_id}/export")).status_code == 404
    assert (await tenant.admin.get(f"/v1/contacts/{contact_id}")).status_code == 404
    found = await alice.get("/v1/agent/search", q=masked_card[-4:])
    assert found.status_code == 200 and found.json()["hits"] == [], found.text

    # the gateway obeyed too: the desk's views and the frames it replays are blanked
    async def views_blanked() -> dict[str, Any] | None:
        work = (await alice.get("/v1/agent/work")).json()
        mine = [w for w in work["my"] + work["closed"] if w["conversation_id"] == cid]
        return mine[0] if mine and mine[0]["customer_name"] == "Erased customer" else None
    view = await until(views_blanked, "the desk's view of the conversation blanked")
    assert view["preview"] == "[erased]"
    active = await alice.get(f"/v1/conversations/{cid}/view")  # the active-conversation view (G4) too
    assert active.status_code == 200, active.text
    assert active.json()["customer"]["name"] == "Erased customer" and active.json()["context"]["prechat"] == {}
    assert "Dana" not in active.text, active.text
    replayed = await tenant.stream(alice, after=0)
    await replayed.wait_for(lambda f: f["type"] == "message" and f["conversation_id"] == cid,
                            what="the conversation's frames replayed")
    ours = [f for f in replayed.frames if f.get("conversation_id") == cid]
    assert {f["text"] for f in ours if f["type"] == "message"} == {"[erased]"}
    assert masked_card not in json.dumps(replayed.frames) and "statement.png" not in json.dumps(replayed.frames)

    # again: harmless; unknown or another tenant's contact: 404
    again = await tenant.admin.request("DELETE", f"/v1/contacts/{contact_id}")
    assert again.status_code == 200, again.text
    assert (await tenant.admin.request("DELETE", "/v1/contacts/nobody-here")).status_code == 404
    other_id = f"t-{uuid.uuid4().hex[:10]}"
    assert await create_tenant(GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1,
                                               argon2_memory_kib=8192), other_id, "admin", PASSWORD)
    other = Tenant(system, other_id)
    try:
        theirs = await answered(await other.sign_in("admin"), "/v1/contacts", {"full_name": "Not Yours"})
        assert (await tenant.admin.request("DELETE", f"/v1/contacts/{theirs['result_id']}")).status_code == 404
        assert (await tenant.admin.get(f"/v1/contacts/{theirs['result_id']}/export")).status_code == 404
    finally:
        await other.close()
