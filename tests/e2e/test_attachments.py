"""Files in conversations (C9) through the gateway only: uploaded and downloaded both ways with the same bytes,
served as downloads (never inline), refused when too large or of a type the tenant does not take, and
private to the conversation (another conversation's or another tenant's file is not found)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import httpx
import pytest

from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.testing.system import Api
from shared.testing.tenants import PASSWORD, Tenant
from tests.e2e.helpers import accept, available

pytestmark = pytest.mark.e2e

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(300_000)  # more than one GridFS chunk (255 KiB)
PDF = b"%PDF-1.7\n" + os.urandom(5_000) + b"\n%%EOF\n"


async def upload(api: Api, path: str, data: Any, *, name: str, content_type: str) -> httpx.Response:
    return await api.http.post(path, content=data, params={"name": name},
                               headers=api._headers({"content-type": content_type}))


async def download(api: Api, path: str) -> httpx.Response:
    return await api.http.get(path, headers=api._headers(None))


def served_safely(response: httpx.Response, filename_star: str) -> None:
    assert response.headers["content-disposition"].startswith("attachment;"), response.headers
    assert f"filename*=UTF-8''{filename_star}" in response.headers["content-disposition"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]


async def test_files_go_both_ways_with_the_same_bytes(tenant):
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    customer, started = await tenant.customer("support", "I have a screenshot of the error")
    cid = started["conversation_id"]
    widget = await tenant.customer_stream(started)
    await accept(alice, desk, cid)

    # the customer's file: stored, not yet sent (only its uploader may fetch it until then)
    up = await upload(customer, f"/v1/widget/conversations/{cid}/attachments", PNG,
                      name="C:\\Users\\dana\\.\u202escreen ü.png", content_type="image/png")
    assert up.status_code == 201, up.text
    stored = up.json()
    assert stored["name"] == "screen ü.png" and stored["size"] == len(PNG)
    assert stored["sha256"] == hashlib.sha256(PNG).hexdigest() and stored["content_type"] == "image/png"
    file_path = f"/v1/conversations/{cid}/attachments/{stored['attachment_id']}"
    assert (await download(alice, file_path)).status_code == 404
    assert (await download(customer, f"/v1/widget{file_path[3:]}")).content == PNG

    sent = await customer.post(f"/v1/widget/conversations/{cid}/messages",
                               {"client_message_id": "c-file", "attachment_ids": [stored["attachment_id"]]})
    assert sent.status_code == 200, sent.text
    frame = await desk.wait_for(lambda f: f["type"] == "message" and f.get("attachments"), what="the file's message")
    assert frame["text"] == "" and frame["attachments"] == [{"attachment_id": stored["attachment_id"],
                                                             "name": "screen ü.png", "content_type": "image/png",
                                                             "size": len(PNG)}]
    got = await download(alice, file_path)
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png" and got.headers["x-attachment-sha256"] == stored["sha256"]
    served_safely(got, "screen%20%C3%BC.png")
    page = (await alice.get(f"/v1/conversations/{cid}/messages")).json()
    assert page["messages"][-1]["attachments"] == frame["attachments"]
    again = await customer.post(f"/v1/widget/conversations/{cid}/messages",
                                {"client_message_id": "c-again", "attachment_ids": [stored["attachment_id"]]})
    assert again.status_code == 409 and again.json()["code"] == "conflict", again.text

    # and back: the agent's invoice reaches the customer
    reply = await upload(alice, f"/v1/conversations/{cid}/attachments", PDF, name="invoice 42.pdf",
                         content_type="application/pdf")
    assert reply.status_code == 201, reply.text
    reply_id = reply.json()["attachment_id"]
    sent = await alice.post(f"/v1/conversations/{cid}/messages", {"client_message_id": "a-file",
                                                                  "text": "Here is your invoice",
                                                                  "attachment_ids": [reply_id]})
    assert sent.status_code == 200, sent.text
    seen = await widget.wait_for(lambda f: f["type"] == "message" and f["text"] == "Here is your invoice",
                                 what="the agent's file on the customer's socket")
    assert [a["attachment_id"] for a in seen["attachments"]] == [reply_id]
    got = await download(customer, f"/v1/widget/conversations/{cid}/attachments/{reply_id}")
    assert got.status_code == 200 and got.content == PDF and got.headers["content-type"] == "application/pdf"
    served_safely(got, "invoice%2042.pdf")

    # a private note's file stays with the staff
    note = await upload(alice, f"/v1/conversations/{cid}/attachments", b"internal only", name="notes.txt",
                        content_type="text/plain")
    note_id = note.json()["attachment_id"]
    assert (await alice.post(f"/v1/conversations/{cid}/messages", {"client_message_id": "a-note", "private": True,
                                                                   "attachment_ids": [note_id]})).status_code == 200
    assert (await download(alice, f"/v1/conversations/{cid}/attachments/{note_id}")).content == b"internal only"
    assert (await download(customer, f"/v1/widget/conversations/{cid}/attachments/{note_id}")).status_code == 404


async def test_limits_types_and_other_conversations_and_tenants(tenant, system):
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    customer, started = await tenant.customer("support", "Hello")
    cid = started["conversation_id"]
    await accept(alice, desk, cid)
    path = f"/v1/widget/conversations/{cid}/attachments"

    limits = (await tenant.admin.get("/v1/admin/attachments")).json()
    assert limits["max_bytes"] == 10 * 1024 * 1024 and limits["configured"] is False
    html = await upload(customer, path, b"<html><script>alert(1)</script></html>", name="page.html",
                        content_type="text/html")
    assert html.status_code == 422 and "text/html" in html.json()["detail"]["detail"], html.text
    disguised = await upload(customer, path, b"<svg onload=alert(1)>", name="cat.png", content_type="image/png")
    assert disguised.status_code == 422 and "image/png" in disguised.json()["detail"]["detail"], disguised.text
    unnamed = await upload(customer, path, PNG[:100], name="../..", content_type="image/png")
    assert unnamed.status_code == 422 and "file name" in unnamed.json()["detail"]["detail"], unnamed.text

    assert (await alice.put("/v1/admin/attachments", {"max_bytes": 1000, "allowed_types": ["image/png"]})
            ).status_code == 403
    configured = await tenant.admin.put("/v1/admin/attachments", {"max_bytes": 1000,
                                                                  "allowed_types": ["image/png", "text/html"]})
    assert configured.status_code == 200, configured.text
    assert (await tenant.admin.get("/v1/admin/attachments")).json() == {
        "max_bytes": 1000, "allowed_types": ["image/png", "text/html"], "configured": True}
    too_big = await upload(customer, path, PNG[:2000], name="big.png", content_type="image/png")
    assert too_big.status_code == 413 and "1000 bytes" in too_big.json()["detail"]["detail"], too_big.text

    async def chunked() -> Any:  # no Content-Length: counted as it streams, cut off past the limit
        for start in range(0, 5000, 500):
            yield PNG[start:start + 500]
    streamed = await upload(customer, path, chunked(), name="big.png", content_type="image/png")
    assert streamed.status_code == 413 and "1000 bytes" in streamed.json()["detail"]["detail"], streamed.text

    # a type the tenant allowed that a browser would render is still only ever a download
    page = await upload(customer, path, b"<html><script>alert(1)</script></html>", name="page.html",
                        content_type="text/html")
    assert page.status_code == 201, page.text
    page_id = page.json()["attachment_id"]
    assert (await customer.post(f"/v1/widget/conversations/{cid}/messages",
                                {"client_message_id": "c-page", "attachment_ids": [page_id]})).status_code == 200
    got = await download(alice, f"/v1/conversations/{cid}/attachments/{page_id}")
    assert got.status_code == 200 and got.headers["content-type"] == "application/octet-stream"
    served_safely(got, "page.html")

    # another conversation of the same tenant, and another tenant: as if the file did not exist
    other_customer, other_started = await tenant.customer("support", "Someone else")
    other_cid = other_started["conversation_id"]
    assert (await download(other_customer, f"/v1/widget/conversations/{other_cid}/attachments/{page_id}")
            ).status_code == 404
    assert (await download(other_customer, f"/v1/widget/conversations/{cid}/attachments/{page_id}")
            ).status_code == 404
    other_id = tenant.id + "-b"
    assert await create_tenant(GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1,
                                               argon2_memory_kib=8192), other_id, "admin", PASSWORD)
    other = Tenant(system, other_id)
    try:
        admin_b = await other.sign_in("admin")
        assert (await download(admin_b, f"/v1/conversations/{cid}/attachments/{page_id}")).status_code == 404
        other.admin.token = admin_b.token
        await other.queue("support", [])
        customer_b, started_b = await other.customer("support", "Hello from B")
        cid_b = started_b["conversation_id"]
        theirs = await download(customer_b, f"/v1/widget/conversations/{cid_b}/attachments/{page_id}")
        assert theirs.status_code == 404 and theirs.json() == (await download(
            customer_b, f"/v1/widget/conversations/{cid_b}/attachments/no-such-file")).json()
        sneaked = await customer_b.post(f"/v1/widget/conversations/{cid_b}/messages",
                                        {"client_message_id": "b-1", "attachment_ids": [page_id]})
        assert sneaked.status_code == 422 and sneaked.json()["code"] == "invalid_argument", sneaked.text
    finally:
        await other.close()


async def test_a_file_opens_an_appeal_by_itself(tenant, system):
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    widget = Api(system.gateway_url)
    try:
        path = f"/v1/widget/{tenant.id}/attachments"
        refused = await widget.http.post(path, content=b"<html></html>", headers={"content-type": "text/html"},
                                         params={"name": "x.html", "queue_id": "support", "client_message_id": "f0"})
        assert refused.status_code == 422, refused.text  # refused before anything opens
        first = await widget.http.post(path, content=PDF, headers={"content-type": "application/pdf"},
                                       params={"name": "receipt.pdf", "queue_id": "support", "client_message_id": "f1"})
        assert first.status_code == 200 and first.json()["opened"] is True, first.text
        cid, visitor = first.json()["conversation_id"], first.json()["visitor_token"]
        assert first.json()["attachment"]["name"] == "receipt.pdf"
        await accept(alice, desk, cid)
        messages = (await alice.get(f"/v1/conversations/{cid}/messages")).json()["messages"]
        (sent,) = [m for m in messages if m["attachments"]]
        assert sent["sender"]["kind"] == "customer" and sent["attachments"][0]["name"] == "receipt.pdf"
        got = await download(alice, f"/v1/conversations/{cid}/attachments/{sent['attachments'][0]['attachment_id']}")
        assert got.content == PDF
        more = await widget.http.post(path, content=PNG, headers={"content-type": "image/png",
                                                                  "x-visitor-token": visitor},
                                      params={"name": "photo.png", "queue_id": "support", "client_message_id": "f2"})
        assert more.status_code == 200 and more.json()["opened"] is False and more.json()["conversation_id"] == cid
        frame = await desk.wait_for(lambda f: f["type"] == "message" and f.get("attachments")
                                    and f["attachments"][0]["name"] == "photo.png", what="the second file")
        assert frame["conversation_id"] == cid
    finally:
        await widget.close()
