"""One chaos run: the system started as separate processes, the workload through both gateways, faults on a
schedule (service instances SIGKILLed and restarted, mongod killed and restarted, the broker killed and
restarted on the same data and frozen with SIGSTOP), then a settle, the checker and the table.

    .venv/bin/python -m tests.chaos [--profile short|long] [--seed N] [--keep]

The short profile is what CI runs (tests/chaos/test_chaos.py, marked slow); the long one (15 minutes of
faults) is for a quiet machine, its table goes in the issue note. The data and logs folder is kept (and printed)
with --keep, and always when the run finds something."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from services.customer.adapters.lines import LINE_USERS
from services.gateway import rebuild
from shared import topic_reader
from shared.contracts.catalogue import CHAT_EVENTS, ROUTING_EVENTS
from tests.chaos.checker import (
    Findings,
    SentMessage,
    case_timelines,
    history_problems,
    line_row_problems,
    line_rows,
    routing_problems,
    served_by,
    stream_problems,
    timeline_problems,
)
from tests.chaos.cluster import Cluster
from tests.chaos.workload import Conversation, Run


MIN_CONVERSATIONS = 10  # a run starts at least this many conversations (see chaos())


@dataclass(frozen=True)
class Profile:
    name: str
    duration_s: float  # load and faults; then no new chats, and the run settles
    kill_every_s: float  # a service instance is SIGKILLed this often
    restart_after_s: tuple[float, float]  # and started again after a delay drawn from this range
    mongod_at_s: float
    broker_kill_at_s: float
    broker_pause_at_s: float
    broker_pause_s: float
    infra_down_s: float  # mongod and the broker stay dead this long before their restart
    tenants: int
    agents: int
    concurrent: int  # conversations at once per tenant
    rounds: int  # customer message + agent reply per conversation
    settle_s: float = 420.0


PROFILES = {
    "short": Profile("short", duration_s=150, kill_every_s=11, restart_after_s=(2, 6), mongod_at_s=35,
                     broker_kill_at_s=75, broker_pause_at_s=115, broker_pause_s=10, infra_down_s=3,
                     tenants=1, agents=4, concurrent=4, rounds=4),
    "long": Profile("long", duration_s=900, kill_every_s=20, restart_after_s=(2, 10), mongod_at_s=200,
                    broker_kill_at_s=450, broker_pause_at_s=700, broker_pause_s=30, infra_down_s=5,
                    tenants=2, agents=4, concurrent=4, rounds=6),
}


@dataclass
class Fault:
    target: str
    how: str
    at: float
    back_at: float | None = None  # when the process was running (and ready) again
    through_s: float | None = None  # from the fault to the first customer message sent after it reaching an agent


@dataclass
class Report:
    profile: Profile
    seed: int
    faults: list[Fault] = field(default_factory=list)
    findings: Findings = field(default_factory=Findings)
    operations: int = 0
    messages: int = 0
    conversations: int = 0
    stream_reconnects: int = 0
    retries: int = 0
    answers_after_504: int = 0
    wall_s: float = 0.0
    checked: Counter[str] = field(default_factory=Counter)  # how much the checker looked at
    by_kind: Counter[str] = field(default_factory=Counter)  # commands by kind and final status

    def table(self) -> str:
        lines = [f"chaos run: profile {self.profile.name}, seed {self.seed}, {self.wall_s:.0f} s wall",
                 (f"operations {self.operations} (HTTP commands answered or not), conversations "
                  f"{self.conversations}, messages {self.messages}, client retries {self.retries}, answers fetched "
                  f"after a 504 {self.answers_after_504}, stream reconnects {self.stream_reconnects}"), "",
                 f"{'process':12s}{'faults':>7s}  {'how':28s}{'back after (s), each':40s}{'max':>6s}"]
        by_target: dict[str, list[Fault]] = {}
        for fault in self.faults:
            by_target.setdefault(fault.target, []).append(fault)
        for target, faults in sorted(by_target.items()):
            backs = [f.back_at - f.at for f in faults if f.back_at is not None]
            each = ", ".join(f"{b:.1f}" for b in backs)
            lines.append(f"{target:12s}{len(faults):7d}  {', '.join(sorted({f.how for f in faults})):28s}"
                         f"{each[:38]:40s}{max(backs, default=0):6.1f}")
        throughs = [f.through_s for f in self.faults if f.through_s is not None]
        lines += ["", ("first customer message through to an agent after each fault (s): "
                       + ", ".join(f"{f.target} {f.through_s:.1f}" for f in self.faults if f.through_s is not None)),
                  (f"  max {max(throughs, default=0):.1f} s; faults with no message through after them: "
                   f"{sum(1 for f in self.faults if f.through_s is None)}"), ""]
        lines.append("commands: " + ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind.items())))
        lines.append("checked: " + ", ".join(f"{n} {name}" for name, n in self.checked.items()))
        for name, count in self.findings.counts().items():
            lines.append(f"{name.replace('_', ' '):18s}{count:6d}  (must be 0)")
        return "\n".join(lines)


async def faults(cluster: Cluster, profile: Profile, rng: random.Random, began: float,
                 report: Report, progress: Run) -> None:
    """The fault schedule: a service instance killed every kill_every_s (each in turn, in a shuffled order,
    never one that is down already), and at their times mongod, the broker, and the broker's freeze."""
    infra = sorted([(profile.mongod_at_s, "mongod"), (profile.broker_kill_at_s, "broker"),
                    (profile.broker_pause_at_s, "pause")])
    labels = list(cluster.instances)
    turn: list[str] = []
    restarting: set[asyncio.Task[None]] = set()
    down: set[str] = set()

    async def restart_later(label: str, fault: Fault) -> None:
        await asyncio.sleep(rng.uniform(*profile.restart_after_s))
        await asyncio.to_thread(cluster.restart, label)
        fault.back_at = time.monotonic()
        down.discard(label)

    next_kill = began + profile.kill_every_s
    next_note = began + 30
    while time.monotonic() - began < profile.duration_s:
        now = time.monotonic()
        if now >= next_note:
            next_note = now + 30
            ops = progress.journal.ops
            steps = Counter(c.step for c in progress.conversations if c.step != "done")
            print(f"[chaos] {now - began:4.0f} s: {len(report.faults)} faults, {len(ops)} commands, "
                  f"{sum(1 for o in ops if o.answered)} answered, {len(progress.conversations)} chats; now "
                  f"{dict(steps)}", flush=True)
        if infra and now - began >= infra[0][0]:
            _, what = infra.pop(0)
            fault = Fault(target="broker" if what != "mongod" else "mongod",
                          how=f"SIGSTOP {profile.broker_pause_s:.0f} s" if what == "pause" else "SIGKILL", at=now)
            report.faults.append(fault)
            print(f"[chaos] {now - began:4.0f} s: {fault.how} {fault.target}", flush=True)
            if what == "mongod":
                await asyncio.to_thread(cluster.kill_mongod)
                await asyncio.sleep(profile.infra_down_s)
                await asyncio.to_thread(cluster.restart_mongod)
            elif what == "broker":
                await asyncio.to_thread(cluster.kill_broker)
                await asyncio.sleep(profile.infra_down_s)
                await asyncio.to_thread(cluster.restart_broker)
            else:
                cluster.pause_broker()
                await asyncio.sleep(profile.broker_pause_s)
                cluster.resume_broker()
            fault.back_at = time.monotonic()
            next_kill = time.monotonic() + profile.kill_every_s
            continue
        if now >= next_kill:
            if not turn:
                turn = labels[:]
                rng.shuffle(turn)
            label = turn.pop()
            if label not in down:
                down.add(label)
                fault = Fault(target=label, how="SIGKILL", at=now)
                report.faults.append(fault)
                print(f"[chaos] {now - began:4.0f} s: SIGKILL {label}", flush=True)
                await asyncio.to_thread(cluster.kill, label)
                task = asyncio.create_task(restart_later(label, fault))
                restarting.add(task)
                task.add_done_callback(restarting.discard)
            next_kill = now + profile.kill_every_s
        await asyncio.sleep(0.2)
    await asyncio.gather(*restarting)


def first_through(conversations: list[Conversation], at: float) -> float | None:
    times = [s.seen_at - at for c in conversations for s in c.sent
             if s.sender == "customer" and s.started >= at and s.seen_at is not None]
    return min(times, default=None)


# Steps a correct system may refuse in a chaos run: an offer that expired or was withdrawn before the accept, an
# invitation to an agent with no free capacity (or already gone), presence while routing has the agent in RONA.
# A tab closed without confirming may be refused (the conversation came back to the agent) or gone already.
REFUSABLE = {"accept", "conference_invite", "conference_accept", "presence", "close_session"}


async def check(run: Run, cluster: Cluster, report: Report) -> None:
    found = report.findings
    for op in run.journal.ops:
        if not op.answered:
            found.unanswered.append(f"{op.kind} {op.key}: never answered ({op.statuses[-5:]})")
        if op.answered and op.status != 200 and op.kind not in REFUSABLE:
            found.refused.append(f"{op.kind} {op.key}: {op.status} {op.body}")
        waited = [s for s in op.statuses if s in ("ReadTimeout", "WriteTimeout", "PoolTimeout")]
        if waited:  # no answer, no 504, within the client's 20 s: a hang
            found.hangs.append(f"{op.kind} {op.key}: {waited}")
        if op.server_errors:
            found.server_errors.append(f"{op.kind} {op.key}: got {op.server_errors}")
    streams = [a.stream for agents in run.agents.values() for a in agents]
    streams += [c.widget for c in run.conversations if c.widget is not None]
    for stream in streams:
        report.checked["stream frames"] += len(stream.frames)
        duplicated, reordered = stream_problems(stream.frames, stream.label)
        found.duplicated += duplicated
        found.reordered += reordered
        found.projections += [f"{stream.label}: resync frame (replayed less than it missed)"
                              for _, f in stream.frames if f.get("type") == "resync"]
    await run.read_back()
    for conv in run.conversations:
        if conv.conversation_id is None:
            continue
        if conv.forgotten:
            found.forgotten.append(f"{conv.tag} ({conv.conversation_id}): no agent got it within the deadline")
        sent = [SentMessage(s.sender, s.client_message_id, s.op.status == 200, s.seen_at is not None)
                for s in conv.sent]
        report.checked["messages in reloaded lists"] += len(conv.history or [])
        lost, duplicated, reordered = history_problems(f"{conv.tag} ({conv.conversation_id})", sent, conv.history)
        found.lost += lost
        found.duplicated += duplicated
        found.reordered += reordered
    reads = {topic: await topic_reader.read_topic(cluster.kafka.bootstrap_servers, topic.name)
             for topic in rebuild.TOPICS}
    events, chat_events = (
        [(r.partition, r.offset, r.envelope) for r in reads[topic].records] for topic in (ROUTING_EVENTS, CHAT_EVENTS))
    report.checked["routing events"] = len(events)
    report.checked["chat events"] = len(chat_events)
    capacity = {(t, a.user): 2 for t, agents in run.agents.items() for a in agents}
    double, over = routing_problems([e for e in events if e[2].tenant_id in run.agents], capacity)
    found.double_assigned += double
    found.over_capacity += over
    ended = {(e.tenant_id, e.payload.conversation_id) for _, _, e in events if e.type == "routing.ConversationEnded"}
    for conv in run.conversations:
        if conv.conversation_id and not conv.forgotten and (conv.tenant, conv.conversation_id) not in ended:
            found.forgotten.append(f"{conv.tag} ({conv.conversation_id}): never ended in routing")
    await check_state(run, cluster, found, served_by([e for e in chat_events if e[2].tenant_id in run.agents]))
    await check_rebuilds(run, cluster, report, list(reads.values()))


async def check_state(run: Run, cluster: Cluster, found: Findings, closed_lists: dict[tuple[str, str], set[str]]
                      ) -> None:
    """What the services hold after the settle, against what the events and the clients say it must be."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(cluster.mongo.url)
    try:
        async for agent in mongo["routing"]["agents"].find({"tenant_id": {"$in": list(run.agents)}}):
            if any(agent.get("load", {}).values()):
                found.projections.append(f"routing: {agent['_id']} still holds {agent['load']} after every "
                                         "conversation ended")
        for service in ("routing", "chat", "customer", "cases", "gateway"):
            unsent = await mongo[service]["outbox"].count_documents({"sent_at": None})
            if unsent:
                found.projections.append(f"{service}: {unsent} outbox records never relayed")
    finally:
        await mongo.close()
    for tenant, agents in run.agents.items():
        for agent in agents:
            with contextlib.suppress(AssertionError):
                work = await agent.gw.read("/v1/agent/work", token=agent.token, limit=200)
                mine = [w["conversation_id"] for w in work["my"]]
                if mine:
                    found.projections.append(f"gateway: {tenant}/{agent.user}'s My list still shows {mine}")
                if work["open"]:
                    found.forgotten.append(f"gateway: {tenant}'s Open list still shows "
                                           f"{[w['conversation_id'] for w in work['open']]}")
                shown, rebuilt = {w["conversation_id"] for w in work["closed"]}, closed_lists[(tenant, agent.user)]
                if len(rebuilt) <= 200 and shown != rebuilt:
                    found.projections.append(f"gateway: {tenant}/{agent.user}'s Closed list differs from the "
                                             f"rebuild from chat.events: only shown {sorted(shown - rebuilt)}, "
                                             f"only rebuilt {sorted(rebuilt - shown)}")
    for conv in run.conversations:
        if conv.conversation_id is None or conv.forgotten:
            continue
        admin, token = run.admins[conv.tenant]
        if conv.case_id:
            with contextlib.suppress(AssertionError):
                linked = await admin.read(f"/v1/conversations/{conv.conversation_id}/case", token=token)
                if (linked.get("case") or {}).get("case_id", linked.get("case_id")) != conv.case_id:
                    found.projections.append(f"{conv.tag}: linked case {linked} is not {conv.case_id}")
        if conv.contact_id:
            with contextlib.suppress(AssertionError):
                contact = await admin.read(f"/v1/contacts/{conv.contact_id}", token=token)
                edit = next((o for o in run.journal.ops if o.key == f"{conv.tag}-contact-edit"), None)
                if edit is not None and edit.status == 200 and contact.get("position") != "Chaos tester":
                    found.lost.append(f"{conv.tag}: the contact edit was accepted but {contact}")


async def check_rebuilds(run: Run, cluster: Cluster, report: Report, reads: list[topic_reader.TopicRead]) -> None:
    """The projections against their rebuild from the topics: every active-conversation view the gateway holds
    (services.gateway.rebuild, the operators' tool, replays the four topics through the consumer's functions),
    the support lines' client lists (customer's rows, rebuilt through its own handlers) and the timeline of every
    case the workload opened (read through the gateway, every page)."""
    found = report.findings
    tenants = set(run.agents)
    rebuilt = {k: v for k, v in rebuild.rebuild(reads).items() if v["tenant_id"] in tenants}
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(cluster.mongo.url, tz_aware=True)
    try:
        live = {doc["_id"]: doc async for doc in mongo["gateway"][rebuild.ACTIVE_VIEWS].find(
            {"tenant_id": {"$in": list(tenants)}})}
        rows = {doc["_id"]: doc async for doc in mongo["customer"][LINE_USERS].find(
            {"tenant_id": {"$in": list(tenants)}})}
    finally:
        await mongo.close()
    views = rebuild.compare(live, rebuilt, complete=all(read.complete for read in reads))
    report.checked["active views"] = len(live)
    found.projections += [f"active view {v}: differs from its rebuild in {', '.join(s)}"
                          for v, s in sorted(views.differs.items())]
    found.projections += [f"active view {v}: missing (the topics make it)" for v in views.missing]
    found.projections += [f"active view {v}: kept, but no event of it is on the topics" for v in views.extra]
    chat_read = next(read for read in reads if read.topic == CHAT_EVENTS.name)
    rebuilt_rows = await line_rows((r.partition, r.offset, r.envelope) for r in chat_read.records
                                   if r.envelope.tenant_id in tenants)
    report.checked["line rows"] = len(rows)
    found.projections += line_row_problems(rows, rebuilt_rows)
    timelines = case_timelines(r.envelope for read in reads for r in read.records)
    for conv in run.conversations:
        if not conv.case_id or conv.forgotten:
            continue
        admin, token = run.admins[conv.tenant]
        shown: list[str] = []
        cursor: str | None = None
        try:
            while True:
                page = await admin.read(f"/v1/cases/{conv.case_id}/timeline", token=token, limit=100,
                                        **({"cursor": cursor} if cursor else {}))
                shown += [entry["entry_id"] for entry in page["entries"]]
                if not (cursor := page["next_cursor"]):
                    break
        except AssertionError as exc:
            found.projections.append(f"{conv.tag}: case {conv.case_id}'s timeline could not be read: {exc}")
            continue
        report.checked["timeline entries"] += len(shown)
        found.projections += timeline_problems(f"{conv.tag}: case {conv.case_id}'s timeline", shown,
                                               timelines[(conv.tenant, conv.case_id)])


async def chaos(profile: Profile, seed: int, root: Path) -> Report:
    began_wall = time.monotonic()
    rng = random.Random(seed)
    report = Report(profile=profile, seed=seed)
    cluster = Cluster(root, extra_env={"ACCESS_TTL_S": "86400"})
    await asyncio.to_thread(cluster.start)
    run = Run(cluster.gateways(), cluster.mongo.url, tenants=profile.tenants, agents=profile.agents,
              concurrent=profile.concurrent, rounds=profile.rounds, seed=seed)
    try:
        await run.set_up()
        began = time.monotonic()
        load = asyncio.gather(*(run.customers(t) for t in run.tenants))
        await faults(cluster, profile, rng, began, report, run)
        # A slow machine gets through fewer conversations in the profile's time (CI once had 9): the lanes go on
        # starting new ones until the run has had MIN_CONVERSATIONS, so the workload is never thinner than that.
        enough = time.monotonic() + profile.settle_s
        while sum(1 for c in run.conversations if c.conversation_id) < MIN_CONVERSATIONS and time.monotonic() < enough:
            await asyncio.sleep(1)
        run.stop_starting.set()
        print(f"[chaos] faults over; settling (no new chats, up to {profile.settle_s:.0f} s)", flush=True)
        settled = time.monotonic()
        while not load.done() and time.monotonic() - settled < profile.settle_s:
            await asyncio.wait([load], timeout=30)
            steps = Counter(f"{c.tag} {c.step}" for c in run.conversations if c.step != "done")
            print(f"[chaos] settling {time.monotonic() - settled:4.0f} s: {dict(steps)}", flush=True)
        if not load.done():
            stuck = [f"{c.tag} ({c.conversation_id}) {c.step}" for c in run.conversations if c.step != "done"]
            report.findings.unanswered.append(f"the workload did not finish within {profile.settle_s} s of the "
                                              f"end: {stuck}")
            load.cancel()
            await asyncio.gather(load, return_exceptions=True)
        else:
            load.result()
        for fault in report.faults:
            fault.through_s = first_through(run.conversations, fault.at)
        await check(run, cluster, report)
        report.operations = len(run.journal.ops)
        report.by_kind = Counter(f"{o.kind}:{o.status}" for o in run.journal.ops)
        report.conversations = sum(1 for c in run.conversations if c.conversation_id)
        report.messages = sum(len(c.sent) for c in run.conversations)
        report.retries = sum(len(o.statuses) - 1 for o in run.journal.ops)
        report.answers_after_504 = sum(1 for o in run.journal.ops if 504 in o.statuses and o.answered)
        report.stream_reconnects = sum(max(0, s.connections - 1) for s in
                                       [a.stream for agents in run.agents.values() for a in agents]
                                       + [c.widget for c in run.conversations if c.widget])
        dead = cluster.dead()
        if dead:
            report.findings.server_errors.append(f"exited by themselves: {dead}")
    finally:
        await run.close()
        await asyncio.to_thread(cluster.stop)
    report.wall_s = time.monotonic() - began_wall
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="short")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--keep", action="store_true", help="keep the data and logs folder (printed)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="chaos-"))
    report = None
    try:
        report = asyncio.run(chaos(PROFILES[args.profile], args.seed, root))
    finally:
        # a finding (or a crash of the harness) keeps its evidence: the services' databases (outboxes keep
        # every published event), the broker's topics and the logs
        if args.keep or report is None or not report.findings.clean:
            print(f"data and logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(report.table())
    for name, items in vars(report.findings).items():
        for item in items[:20]:
            print(f"  {name}: {item}")
    return 0 if report.findings.clean else 1
