"""The cast and the conversations of the authorisation matrix (tests/e2e/test_authz_matrix.py), set up through the
gateway only, and the client side of one matrix cell (a request, its status, who answered it).

One tenant ("A") holds every relation to conversation X at once; what cannot co-exist with it gets a conversation
of its own: W (waiting, with a pending routing offer), X2 (X's twin, for the cells that end or change a relation),
Y (the other customer's). A second tenant ("B") has an admin and a conversation Z of its own: nothing of A may
show in B's answers, nothing of B in A's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.testing.system import Api, Stream
from shared.testing.tenants import PASSWORD, Tenant
from tests.e2e.helpers import accept, available, eventually, offer_for

# The twelve actors of the issue, in the matrix's column order. Who plays them (tenant A unless said):
ACTORS = ("anonymous", "customer", "other_customer", "assigned", "offered", "member", "queue_member", "favourite",
          "supervisor", "other_supervisor", "admin", "other_admin")
PLAYERS = {
    "anonymous": "no token at all",
    "customer": "the conversation token of X's customer (W's customer for W, X2's for X2)",
    "other_customer": "the conversation token of Y's customer (same tenant, another conversation)",
    "assigned": "alice: X is assigned to her (X2 too)",
    "offered": "bob: a pending invitation to X's conference (X2's too); for W, olga: routing's pending offer of W",
    "member": "carol: invited to X's conference and joined it (X2's too)",
    "queue_member": "dave: member of X's queue (support) and W's (billing), offline, never assigned",
    "favourite": "erin: X's customer is one of her favourites (U4)",
    "supervisor": "sam: supervisor of support and billing (X's and W's queues)",
    "other_supervisor": "vera: supervisor of sales (Y's queue) only",
    "admin": "the tenant's admin (made with the tenant: supervises no queue)",
    "other_admin": "tenant B's admin",
}


def tag(what: str) -> str:
    """A unique, searchable marker for a piece of data (so a body that leaks it is found by a substring search)."""
    return f"{what}-{uuid.uuid4().hex[:10]}"


@dataclass
class Outcome:
    """What one cell's request got back."""
    status: int
    by: str  # "gateway": the gateway's own answer or refusal; "owner": a command's answer from its owning service
    code: str | None
    text: str


def outcome(response: httpx.Response) -> Outcome:
    text = response.text
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("status") in ("accepted", "rejected", "pending"):
        return Outcome(response.status_code, "owner", body.get("code"), text)
    detail = body.get("detail") if isinstance(body, dict) else None
    code = detail.get("error") if isinstance(detail, dict) else (body.get("error") if isinstance(body, dict)
                                                                 else None)
    return Outcome(response.status_code, "gateway", code, text)


async def call(http: httpx.AsyncClient, token: str | None, method: str, path: str, body: Any = None, *,
               key: str | None = None, content: bytes | None = None, content_type: str | None = None) -> Outcome:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    if key:
        headers["Idempotency-Key"] = key
    if content is not None:
        headers["content-type"] = content_type or "application/octet-stream"
        response = await http.request(method, path, content=content, headers=headers)
    elif body is None:
        response = await http.request(method, path, headers=headers)
    else:
        response = await http.request(method, path, json=body, headers=headers)
    return outcome(response)


async def ok(response: httpx.Response | Any, what: str, statuses: tuple[int, ...] = (200,)) -> Any:
    assert response.status_code in statuses, f"{what}: {response.status_code} {response.text}"
    return response.json() if response.content and response.headers.get("content-type", "").startswith(
        "application/json") else None


@dataclass
class Conversation:
    id: str
    customer_id: str
    customer_name: str
    token: str
    api: Api


@dataclass
class World:
    a: Tenant
    b: Tenant
    staff: dict[str, Api]  # by user name, tenant A's; "admin_b" is tenant B's admin
    desks: dict[str, Stream]
    x: Conversation
    x2: Conversation
    w: Conversation
    y: Conversation
    z: Conversation  # tenant B's
    tokens: dict[str, dict[str, str | None]] = field(default_factory=dict)  # conversation -> actor -> token
    ids: dict[str, Any] = field(default_factory=dict)  # attachment, case, contact, article ids, seqs, offer id
    secrets_a: list[str] = field(default_factory=list)  # texts only tenant A's people may see
    secrets_x: list[str] = field(default_factory=list)  # X's texts: only those who may read X see them
    replies_x: list[str] = field(default_factory=list)  # the agents' replies in X: not for the invited bob
    notes_x: list[str] = field(default_factory=list)  # X's private notes: never a customer or a favourite
    secrets_b: list[str] = field(default_factory=list)  # texts only tenant B's people may see


async def _new_tenant(system: Any, tenant_id: str) -> Tenant:
    settings = GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1, argon2_memory_kib=8192)
    assert await create_tenant(settings, tenant_id, "admin", PASSWORD)
    tenant = Tenant(system, tenant_id)
    tenant.admin = await tenant.sign_in("admin")
    return tenant


async def _start(tenant: Tenant, queue: str, name: str, message: str) -> Conversation:
    api, started = await tenant.customer(queue, message, name=name)
    return Conversation(started["conversation_id"], started["customer_id"], name, started["conversation_token"], api)


async def _visible(api: Api, cid: str, wanted: Any, what: str) -> dict[str, Any]:
    async def read() -> Any:
        response = await api.get(f"/v1/conversations/{cid}")
        return response.json() if response.status_code == 200 else {}
    return await eventually(read, wanted, what, timeout_s=30)


async def _conference(tenant: Tenant, staff: dict[str, Api], desks: dict[str, Stream], cid: str) -> None:
    """alice (assigned) invites carol, who joins, then bob, who leaves the invitation pending."""
    alice = staff["alice"]
    await ok(await alice.post(f"/v1/conversations/{cid}/conference/invite", {"agent_id": "carol"}), "invite carol")
    await desks["carol"].wait_for(lambda f: f["type"] == "conference_invite" and f["conversation_id"] == cid,
                                  what="carol's invitation")
    await ok(await staff["carol"].post(f"/v1/conversations/{cid}/conference/accept"), "carol joins")
    await _visible(alice, cid, lambda v: "carol" in v.get("agents", []), "carol in the conference")
    await ok(await alice.post(f"/v1/conversations/{cid}/conference/invite", {"agent_id": "bob"}), "invite bob")
    await desks["bob"].wait_for(lambda f: f["type"] == "conference_invite" and f["conversation_id"] == cid,
                                what="bob's invitation")


async def _upload(api: Api, path: str, name: str, data: bytes) -> str:
    response = await api.http.post(path, params={"name": name}, content=data,
                                   headers={"authorization": f"Bearer {api.token}", "content-type": "text/plain"})
    assert response.status_code == 201, response.text
    return str(response.json()["attachment_id"])


async def build(system: Any, a: Tenant) -> World:
    """Tenant `a` (fresh, from the `tenant` fixture) gets the cast and X, X2, W, Y; tenant B is made here."""
    admin = a.admin
    for queue, members in (("support", ["alice", "dave"]), ("billing", ["olga", "dave"]), ("sales", [])):
        await a.queue(queue, members, offer_timeout_s=600)
    await ok(await admin.put("/v1/admin/wrap-up-reasons", {"reasons": [{"code": "resolved", "label": "Resolved"}]}),
             "wrap-up reasons")
    # originals readable by every staff role: the originals route then shows the gateway's decision, not the policy's
    await ok(await admin.put("/v1/admin/masking", {"originals_roles": ["agent", "supervisor", "admin"]}), "masking")
    await ok(await admin.put("/v1/admin/survey", {"enabled": True}), "the survey on")
    names = {"alice": {}, "bob": {}, "carol": {"capacity": 3}, "dave": {}, "erin": {}, "olga": {}, "frank": {},
             "sam": {"role": "supervisor", "supervises": ["support", "billing"]},
             "vera": {"role": "supervisor", "supervises": ["sales"]}}
    staff: dict[str, Api] = {"admin": admin}
    for name, extra in names.items():
        staff[name] = await a.agent(name, **extra)
    desks = {name: await a.stream(api) for name, api in staff.items()}

    # X: alice takes it, carol joins its conference, bob's invitation stays pending, erin follows its customer
    await available(staff["alice"])
    x = await _start(a, "support", tag("Xena"), tag("x-first"))
    await accept(staff["alice"], desks["alice"], x.id)
    for name in ("bob", "carol", "frank"):  # invitees must not be offline; away gets no routed offers
        await ok(await staff[name].put("/v1/agent/presence", {"presence": "away"}), f"{name} away")
    await _conference(a, staff, desks, x.id)
    await ok(await staff["erin"].put(f"/v1/agent/users/{x.customer_id}", {"favourite": True}), "erin's favourite")
    await _visible(staff["erin"], x.id, lambda v: bool(v), "X readable by erin (favourite)")

    # X's files and messages: a reply with a file, a private note, a customer's file
    alice = staff["alice"]
    staff_file = await _upload(alice, f"/v1/conversations/{x.id}/attachments", "staff.txt", b"a staff file")
    reply, note = tag("x-reply"), tag("x-note")
    await ok(await alice.post(f"/v1/conversations/{x.id}/messages",
                              {"client_message_id": "r1", "text": reply, "attachment_ids": [staff_file]}), "reply")
    await ok(await alice.post(f"/v1/conversations/{x.id}/messages",
                              {"client_message_id": "n1", "text": note, "private": True}), "note")
    shareable = "To reset your password, follow the link on the sign-in page."  # drafted into an article below
    await ok(await alice.post(f"/v1/conversations/{x.id}/messages", {"client_message_id": "r2", "text": shareable}),
             "a shareable reply")
    customer_file = await _upload(x.api, f"/v1/widget/conversations/{x.id}/attachments", "customer.txt", b"mine")
    asked = tag("x-asked")
    await ok(await x.api.post(f"/v1/widget/conversations/{x.id}/messages",
                              {"client_message_id": "c1", "text": asked, "attachment_ids": [customer_file]}), "asked")
    page = await eventually(lambda: _json(alice.get(f"/v1/conversations/{x.id}/messages")),
                            lambda p: asked in [m["text"] for m in p.get("messages", [])], "X's messages")
    shareable_seq = next(m["seq"] for m in page["messages"] if m["text"] == shareable)

    # X2: X's twin for the cells that change relations (leave, decline, accept) or end it
    x2 = await _start(a, "support", tag("Xavier"), tag("x2-first"))
    await accept(alice, desks["alice"], x2.id)
    await _conference(a, staff, desks, x2.id)

    # Y: the other customer's, waiting in sales (nobody works there); W: offered to olga in billing
    y = await _start(a, "sales", tag("Yara"), tag("y-first"))
    await available(staff["olga"])
    w = await _start(a, "billing", tag("Wanda"), tag("w-first"))
    offer = await offer_for(desks["olga"], w.id)

    contact = await ok(await admin.post("/v1/contacts", {"full_name": tag("Connie")}), "a contact")
    case = await ok(await admin.post("/v1/cases", {"title": tag("case")}), "a case")
    article_title = tag("article")
    article = await ok(await admin.post("/v1/articles", {"title": article_title, "body": "How to reset a password",
                                                         "status": "published"}), "an article")
    await ok(await staff["sam"].post(f"/v1/supervisor/conversations/{x.id}/observe"), "sam observes X")

    # tenant B: its admin and a conversation of its own, waiting
    b = await _new_tenant(system, f"t-{uuid.uuid4().hex[:10]}")  # no prefix of A's id: a substring search
    await b.queue("support", [])
    z = await _start(b, "support", tag("Zed"), tag("z-first"))
    staff["admin_b"] = b.admin
    desks["admin_b"] = await b.stream(b.admin)

    world = World(a, b, staff, desks, x, x2, w, y, z)
    world.ids = {"staff_file": staff_file, "customer_file": customer_file, "shareable_seq": shareable_seq,
                 "contact": contact["result_id"], "case": case["result_id"], "article": article["result_id"],
                 "w_offer": offer["offer_id"]}
    world.secrets_x = [x.customer_name, reply, asked, note, x.token]
    world.replies_x = [reply]
    world.notes_x = [note]
    world.secrets_a = [a.id, x.id, x2.id, w.id, y.id, x.customer_name, x2.customer_name, w.customer_name,
                       y.customer_name, article_title, *world.secrets_x]
    world.secrets_b = [b.id, z.id, z.customer_name]
    common = {"anonymous": None, "other_customer": y.token, "assigned": alice.token, "offered": staff["bob"].token,
              "member": staff["carol"].token, "queue_member": staff["dave"].token, "favourite": staff["erin"].token,
              "supervisor": staff["sam"].token, "other_supervisor": staff["vera"].token, "admin": admin.token,
              "other_admin": b.admin.token}
    world.tokens = {"X": {**common, "customer": x.token}, "X2": {**common, "customer": x2.token},
                    "W": {**common, "customer": w.token, "offered": staff["olga"].token, "other_customer": x.token}}
    return world


async def _json(pending: Any) -> Any:
    response = await pending
    return response.json() if response.status_code == 200 else {}
