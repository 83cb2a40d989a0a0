"""The chaos run's workload, only through the gateways: tenants, agents with presence who accept their offers,
customers who open chats and exchange messages with whoever holds them, transfers, ends with wrap-up, a case
opened from each conversation and a contact created and edited. Each step waits for the other side's client
to show what was sent (with a deadline), and every send, answer and frame is kept for the checker."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from tests.chaos.clients import Frame, Gateways, Journal, LiveStream, Op

PASSWORD = "chaos-password-1"
QUEUE = "support"
SEEN_WITHIN_S = 240.0  # how long a client waits to see what the other side sent before counting it missing


@dataclass
class Sent:
    """A chat message as its sender's client saw it."""
    sender: str  # "customer" or "agent"
    client_message_id: str
    op: Op
    to_agent: str | None  # the agent who held the conversation when the customer sent it
    started: float
    seen_at: float | None = None  # when the other side's client showed it


@dataclass
class Conversation:
    tag: str
    tenant: str
    started: float
    conversation_id: str | None = None
    start_op: Op | None = None
    widget: LiveStream | None = None
    holders: list[str] = field(default_factory=list)  # agents who accepted it, in order
    sent: list[Sent] = field(default_factory=list)
    transferred: bool = False
    conference: list[str] = field(default_factory=list)  # agents who joined it in a conference
    parked: bool = False  # closed to waiting (persistent chat) once, and brought back by the customer
    ended: bool = False
    forgotten: bool = False  # waited in the queue past the deadline, never assigned
    case_id: str | None = None
    contact_id: str | None = None
    history: list[dict[str, Any]] | None = None  # the customer's list after the run (a reload)
    step: str = "starting"  # what it waits for now (the run's progress lines count them)


class Agent:
    """A desk: its stream (reconnecting through either gateway), accepting every offer, back to Available
    after a RONA."""

    def __init__(self, run: Run, tenant: str, user: str, token: str, gateways: Gateways) -> None:
        self.run, self.tenant, self.user, self.token, self.gw = run, tenant, user, token, gateways
        self.stream = LiveStream(gateways, "/v1/agent/stream", f"agent {tenant}/{user}", on_frame=self.on_frame,
                                 access_token=token)
        self.presence = "offline"
        self.tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def on_frame(self, frame: Frame) -> None:
        if frame["type"] == "offer":
            self._spawn(self.accept(frame["conversation_id"], frame["offer_id"]))
        elif frame["type"] == "assigned":  # by an accepted offer, or back from waiting (persistent chat)
            self.run.assigned(frame["conversation_id"], self, frame["at"])
        elif frame["type"] == "conference_invite":
            self._spawn(self.gw.command("conference_accept", "POST",
                                        f"/v1/conversations/{frame['conversation_id']}/conference/accept", {},
                                        token=self.token, key=f"join-{frame['conversation_id']}-{frame['at']}"))
        elif frame["type"] == "presence":
            self.presence = frame["presence"]
            if frame["presence"] == "rona":
                self._spawn(self.available())

    async def available(self) -> None:
        await self.gw.command("presence", "PUT", "/v1/agent/presence", {"presence": "available"}, token=self.token,
                              key=f"presence-{self.user}-{time.monotonic_ns()}")

    async def accept(self, cid: str, offer_id: str) -> None:
        await self.gw.command("accept", "POST", f"/v1/conversations/{cid}/accept", {"offer_id": offer_id},
                              token=self.token, key=f"accept-{offer_id}")

    async def close_session(self, cid: str) -> None:
        """Close the conversation's tab, as an agent does when done with it (a desk holds 10 at most: G3). Not
        confirmed: a tab whose conversation this agent still holds (a transfer came back to it) stays."""
        with contextlib.suppress(AssertionError):
            panel = await self.gw.read("/v1/agent/sessions", token=self.token)
            for session in panel["sessions"]:
                if session.get("ref") == cid:
                    await self.gw.command("close_session", "POST", f"/v1/agent/sessions/{session['id']}/close",
                                          {"confirm": False}, token=self.token,
                                          key=f"close-{cid}-{self.user}-{time.monotonic_ns()}")

    def made_agent(self, cid: str) -> Callable[[Frame], bool]:
        """Chat's state change naming this agent among the conversation's agents (the desk enables writing on
        it, and loads what was written before it: desk.js)."""
        return lambda f: (f["type"] == "conversation_state" and f["conversation_id"] == cid
                          and f.get("state") == "active" and self.user in f.get("agents", []))

    async def shows(self, cid: str, cmid: str, since: int) -> bool:
        """Whether this agent's desk shows a customer's message: its live frame, or, when the message was posted
        before chat took this agent on (chat was behind on routing's assignment, after a restart), the desk's
        load of the messages on chat's state change naming it (frames from the `since`-th on)."""
        seen = since
        while True:
            frame = await self.stream.wait_for(
                lambda f: f["type"] == "message" and f.get("client_message_id") == cmid or self.made_agent(cid)(f),
                SEEN_WITHIN_S, after=seen)
            if frame is None or frame["type"] == "message":
                return frame is not None
            seen = next(n for n in range(seen, len(self.stream.frames)) if self.stream.frames[n][1] is frame) + 1
            with contextlib.suppress(AssertionError):
                page = await self.gw.read(f"/v1/conversations/{cid}/messages", token=self.token, limit=500)
                if any(m.get("client_message_id") == cmid for m in page["messages"]):
                    return True

    async def keep_available(self) -> None:
        """Every 20 s: Available again if the last presence seen is not (a RONA frame missed, a restart)."""
        while True:
            await asyncio.sleep(20)
            if self.presence not in ("available", "busy"):
                await self.available()

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.stream.stop()


class Run:
    def __init__(self, gateway_urls: list[str], mongo_url: str, *, tenants: int, agents: int, concurrent: int,
                 rounds: int, seed: int) -> None:
        self.urls = gateway_urls
        self.mongo_url = mongo_url
        self.tenants = [f"chaos-{seed}-{n}" for n in range(tenants)]
        self.agent_count, self.concurrent, self.rounds = agents, concurrent, rounds
        self.random = random.Random(seed)
        self.journal = Journal()
        self.agents: dict[str, list[Agent]] = {}
        self.admins: dict[str, tuple[Gateways, str]] = {}
        self.conversations: list[Conversation] = []
        self.holders: dict[str, list[Agent]] = {}
        self._assigned = asyncio.Condition()
        self._assignments: set[tuple[str, str, str]] = set()
        self._numbers = itertools.count()
        self._clients: list[Gateways] = []
        self.stop_starting = asyncio.Event()

    def client(self) -> Gateways:
        gw = Gateways(self.urls, self.journal, start=self.random.randrange(len(self.urls)))
        self._clients.append(gw)
        return gw

    # --- set-up ---------------------------------------------------------------------------------------------

    async def set_up(self) -> None:
        settings = GatewaySettings(mongo_url=self.mongo_url, argon2_time_cost=1, argon2_memory_kib=8192)
        for tenant in self.tenants:
            assert await create_tenant(settings, tenant, "admin", PASSWORD)
            admin = self.client()
            token = await self.sign_in(admin, tenant, "admin")
            self.admins[tenant] = (admin, token)
            users = [f"agent{n}" for n in range(self.agent_count)]
            for user in users:
                op = await admin.command("staff", "POST", "/v1/admin/staff",
                                         {"user_id": user, "password": PASSWORD, "role": "agent",
                                          "capacity": {"chat": 2}}, token=token, key=f"staff-{user}")
                assert op.status == 200, op.body
            op = await admin.command("queue", "PUT", f"/v1/admin/queues/{QUEUE}",
                                     {"name": QUEUE, "members": dict.fromkeys(users, 1), "offer_timeout_s": 30,
                                      "persistent": True},
                                     token=token, key="queue")
            assert op.status == 200, op.body
            self.agents[tenant] = []
            for user in users:
                gw = self.client()
                agent = Agent(self, tenant, user, await self.sign_in(gw, tenant, user), gw)
                agent.stream.start()
                await asyncio.wait_for(agent.stream.connected.wait(), 30)
                await agent.available()
                agent._spawn(agent.keep_available())
                self.agents[tenant].append(agent)

    async def sign_in(self, gw: Gateways, tenant: str, user: str) -> str:
        op = await gw.command("sign_in", "POST", "/v1/auth/sign-in",
                              {"tenant_id": tenant, "username": user, "password": PASSWORD}, token=None,
                              key=f"sign-in-{tenant}-{user}")
        assert op.status == 200, op.body
        return str(op.body["access_token"])

    # --- assignment -------------------------------------------------------------------------------------------

    def assigned(self, cid: str, agent: Agent, at: str) -> None:
        """An `assigned` frame on the agent's stream (a replay after a reconnect counted once)."""
        if (cid, agent.user, at) in self._assignments:
            return
        self._assignments.add((cid, agent.user, at))

        async def note() -> None:
            async with self._assigned:
                self.holders.setdefault(cid, []).append(agent)
                self._assigned.notify_all()
        agent._spawn(note())

    async def wait_holder(self, cid: str, count: int, timeout_s: float) -> Agent | None:
        """The agent of the `count`-th accepted offer of the conversation (None after the deadline)."""
        async with self._assigned:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._assigned.wait_for(lambda: len(self.holders.get(cid, [])) >= count),
                                       timeout_s)
            held = self.holders.get(cid, [])
            return held[count - 1] if len(held) >= count else None

    # --- the conversations ----------------------------------------------------------------------------------

    async def customers(self, tenant: str) -> None:
        """Keeps `concurrent` conversations going in the tenant until told to stop starting new ones."""
        async def lane() -> None:
            while not self.stop_starting.is_set():
                await self.conversation(tenant, f"c{next(self._numbers)}")
        await asyncio.gather(*(lane() for _ in range(self.concurrent)))

    async def think(self) -> None:
        await asyncio.sleep(self.random.uniform(0.2, 1.0))

    async def conversation(self, tenant: str, tag: str) -> None:
        conv = Conversation(tag=tag, tenant=tenant, started=time.monotonic())
        self.conversations.append(conv)
        gw = self.client()
        conv.start_op = await gw.command("start", "POST", f"/v1/widget/{tenant}/conversations",
                                         {"queue_id": QUEUE, "message": f"hello from {tag}", "name": f"Customer {tag}"},
                                         token=None, key=f"start-{tag}")
        if conv.start_op.status != 200 or "conversation_token" not in (conv.start_op.body or {}):
            conv.step = "done"  # refused (the checker reports the answer)
            return
        cid, ctoken = conv.start_op.body["conversation_id"], conv.start_op.body["conversation_token"]
        conv.conversation_id = cid
        conv.widget = LiveStream(gw, "/v1/widget/stream", f"widget {tag}", token=ctoken)
        conv.widget.start()
        conv.step = "waiting for an agent"
        agent = await self.wait_holder(cid, 1, SEEN_WITHIN_S)
        if agent is None:
            conv.forgotten = True
            await gw.command("customer_end", "POST", f"/v1/widget/conversations/{cid}/end", {}, token=ctoken,
                             key=f"{tag}-customer-end")
            return
        conv.holders.append(agent.user)
        rounds = list(range(1, self.rounds))
        self.random.shuffle(rounds)
        special = {name: rounds.pop() for name in ("transfer", "conference", "waiting")
                   if rounds and self.random.random() < 0.3}
        if special.get("waiting") == self.rounds - 1:  # parked with no message after it to bring it back
            special.pop("waiting")
        for i in range(self.rounds):
            await self.think()
            waking = i - 1 == special.get("waiting")  # this message brings a parked conversation back
            marks = {a.user: len(a.stream.frames) for a in self.agents[tenant]}
            await self.send(conv, "customer", gw, ctoken, f"{tag}-c{i}", None if waking else agent,
                            f"/v1/widget/conversations/{cid}/messages", None if waking else agent.stream)
            if waking:
                conv.step = "waiting for an agent after waiting"
                if (agent := await self.next_holder(conv, marks)) is None:
                    return
            await self.think()
            await self.send(conv, "agent", agent.gw, agent.token, f"{tag}-a{i}", None,
                            f"/v1/conversations/{cid}/messages", conv.widget)
            if i == 0:
                await self.case_and_contact(conv, agent)
            if i == special.get("conference"):
                await self.conference(conv, agent, i)
            if i == special.get("waiting"):
                op = await agent.gw.command("close_to_waiting", "POST", f"/v1/conversations/{cid}/close-to-waiting",
                                            {}, token=agent.token, key=f"{tag}-waiting")
                if op.status != 200:
                    special.pop("waiting")
                else:
                    conv.parked = True
            if i == special.get("transfer"):
                marks = {a.user: len(a.stream.frames) for a in self.agents[tenant]}
                op = await agent.gw.command("transfer", "POST", f"/v1/conversations/{cid}/transfer",
                                            {"to_queue_id": QUEUE, "reason": "chaos transfer"}, token=agent.token,
                                            key=f"{tag}-transfer")
                if op.status == 200:
                    conv.transferred = True
                    await agent.close_session(cid)
                    conv.step = "waiting for an agent after a transfer"
                    if (agent := await self.next_holder(conv, marks)) is None:
                        await gw.command("customer_end", "POST", f"/v1/widget/conversations/{cid}/end", {},
                                         token=ctoken, key=f"{tag}-customer-end")
                        return
        await self.think()
        conv.step = "ending"
        op = await agent.gw.command("end", "POST", f"/v1/conversations/{cid}/end", {}, token=agent.token,
                                    key=f"{tag}-end")
        conv.ended = op.status == 200
        conv.step = "wrapping up"
        await agent.gw.command("wrap_up", "POST", f"/v1/conversations/{cid}/wrap-up",
                               {"reason_code": None, "note": "chaos"}, token=agent.token, key=f"{tag}-wrap-up")
        conv.step = "waiting for the widget to show it closed"
        await conv.widget.wait_for(lambda f: f["type"] == "conversation_closed", SEEN_WITHIN_S)
        conv.step = "closing the tabs"
        for user in dict.fromkeys(conv.holders):
            await next(a for a in self.agents[tenant] if a.user == user).close_session(cid)
        conv.step = "done"

    async def next_holder(self, conv: Conversation, marks: dict[str, int]) -> Agent | None:
        """The conversation's next holder once its desk may act on it (None: nobody got it in time, forgotten).
        Routing's assignment reaches the desk first; the desk writes, transfers and ends once chat's state
        change says the conversation is active with this agent (desk.js), frames from `marks` on."""
        agent = await self.wait_holder(conv.conversation_id, len(conv.holders) + 1, SEEN_WITHIN_S)
        if agent is None:
            conv.forgotten = True
            return None
        conv.holders.append(agent.user)
        await agent.stream.wait_for(agent.made_agent(conv.conversation_id), SEEN_WITHIN_S / 4,
                                    after=marks[agent.user])
        return agent

    async def conference(self, conv: Conversation, host: Agent, i: int) -> None:
        """The agent invites a colleague, who joins (their desk accepts the invitation), says something the
        customer sees, and leaves."""
        cid = conv.conversation_id
        guest = self.random.choice([a for a in self.agents[conv.tenant] if a is not host])
        conv.step = "in a conference"
        before = len(guest.stream.frames)  # the guest may have held it before (a transfer): only new frames count
        op = await host.gw.command("conference_invite", "POST", f"/v1/conversations/{cid}/conference/invite",
                                   {"agent_id": guest.user}, token=host.token, key=f"{conv.tag}-invite")
        if op.status != 200:
            return
        joined = await guest.stream.wait_for(lambda f: f["type"] == "conversation_state"
                                             and f["conversation_id"] == cid and guest.user in f.get("agents", []),
                                             SEEN_WITHIN_S / 4, after=before)
        if joined is None:  # the invitation was declined for want of capacity, or expired: nothing to leave
            return
        conv.conference.append(guest.user)
        await self.send(conv, "agent", guest.gw, guest.token, f"{conv.tag}-g{i}", None,
                        f"/v1/conversations/{cid}/messages", conv.widget)
        op = await guest.gw.command("conference_leave", "POST", f"/v1/conversations/{cid}/conference/leave", {},
                                    token=guest.token, key=f"{conv.tag}-leave")
        if op.status == 200:
            await guest.close_session(cid)

    async def send(self, conv: Conversation, sender: str, gw: Gateways, token: str, cmid: str, to: Agent | None,
                   path: str, other_side: LiveStream | None) -> None:
        began = time.monotonic()
        conv.step = f"sending a {sender} message"
        since = len(other_side.frames) if other_side is not None else 0
        op = await gw.command(f"{sender}_message", "POST", path,
                              {"client_message_id": cmid, "text": f"{sender} says {cmid}"}, token=token, key=cmid)
        sent = Sent(sender, cmid, op, to.user if to else None, began)
        conv.sent.append(sent)
        if op.status == 200 and other_side is None:
            sent.seen_at = time.monotonic()  # no live client to check: the history check covers it
        elif op.status == 200 and to is not None:
            conv.step = f"waiting to see a {sender} message"
            if await to.shows(conv.conversation_id, cmid, since):
                sent.seen_at = time.monotonic()
        elif op.status == 200:
            conv.step = f"waiting to see a {sender} message"
            frame = await other_side.wait_for(
                lambda f: f["type"] == "message" and f.get("client_message_id") == cmid, SEEN_WITHIN_S)
            if frame is not None:
                sent.seen_at = time.monotonic()

    async def case_and_contact(self, conv: Conversation, agent: Agent) -> None:
        """A case opened from the conversation by its agent; a contact created and edited by the admin."""
        conv.step = "opening a case, editing a contact"
        op = await agent.gw.command("open_case", "POST", "/v1/cases",
                                    {"title": f"Case of {conv.tag}", "conversation_id": conv.conversation_id},
                                    token=agent.token, key=f"{conv.tag}-case")
        if op.status == 200:
            conv.case_id = op.body.get("result_id")
        admin, token = self.admins[conv.tenant]
        contact_id = f"contact-{conv.tag}"
        op = await admin.command("create_contact", "POST", "/v1/contacts",
                                 {"contact_id": contact_id, "full_name": f"Customer {conv.tag}"}, token=token,
                                 key=f"{conv.tag}-contact")
        if op.status == 200:
            conv.contact_id = contact_id
            await admin.command("edit_contact", "PATCH", f"/v1/contacts/{contact_id}",
                                {"version": 1, "position": "Chaos tester"}, token=token, key=f"{conv.tag}-contact-edit")

    # --- after the run ----------------------------------------------------------------------------------------

    async def read_back(self) -> None:
        """What a reload shows: each conversation's message list, as its customer's client reads it."""
        for conv in self.conversations:
            if conv.conversation_id is None or conv.start_op is None:
                continue
            gw = self.client()
            with contextlib.suppress(AssertionError):
                page = await gw.read(f"/v1/widget/conversations/{conv.conversation_id}/messages",
                                     token=conv.start_op.body["conversation_token"], limit=500)
                conv.history = page["messages"]

    async def close(self) -> None:
        for agents in self.agents.values():
            for agent in agents:
                await agent.stop()
        for conv in self.conversations:
            if conv.widget is not None:
                await conv.widget.stop()
        for gw in self._clients:
            await gw.close()
