"""Benchmark: time from a conversation being handed to routing to its offer being published, against
the broker's own produce->consume round trip measured in the same run (a figure and a ratio, not a test).

Drives the real routing service (`python -m services.routing`, its own process) through Kafka:
N agents (default 1,000) across Q queues (default 20), conversations arriving at R per second
(default 20); simulated agents accept every offer at once and end the conversation after --hold-s.

    .venv/bin/python -m benchmarks.routing_offer_latency [--duration-s 60] [--rate 20]

It starts its own mongod and Apache Kafka (temporary directory) unless --mongo-url/--kafka are given,
and prints p50/p99 per minute of the run, commands answered per second, and the broker's memory and CPU.
With --stall-s 5 it stops the routing processes (SIGSTOP) that long, --stall-at-s into the load, and prints
how long after SIGCONT the p99 took to come back under --target-ms for good (the backlog drained)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from benchmarks.broker_hop import broker_round_trip, pct, process_usage
from benchmarks.harness import local_infrastructure
from shared.broker import ensure_topics, producer_config
from shared.contracts import routing as r
from shared.contracts.catalogue import ROUTING_COMMANDS, ROUTING_EVENTS, TOPICS
from shared.contracts.envelope import encode, wrap
from shared.localstack.processes import free_port, wait_for_ready
from shared.settings import ServiceSettings

TENANT = "bench"


class Bench:
    def __init__(self, args: argparse.Namespace, bootstrap: str) -> None:
        self.args = args
        self.bootstrap = bootstrap
        # The services' own producer settings, so the load generator is one more service.
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_config(ServiceSettings()))
        self.sent_at: dict[str, float] = {}
        self.sent_wall: dict[str, float] = {}
        self.made_at: dict[str, float] = {}  # OfferMade's occurred_at (in routing's transaction)
        self.received_wall: dict[str, float] = {}
        self.offered_at: dict[str, float] = {}
        self.queued_to_offer_in_service: list[float] = []
        self.answers: dict[str, str] = {}
        self.answered_at: list[float] = []
        self.queued_at_event: dict[str, float] = {}
        self.rejections: list[str] = []
        self.pids: list[int] = []  # the routing processes, for --stall-s
        self.stalled: tuple[float, float] | None = None  # when they were stopped and resumed (monotonic)

    async def send(self, payload: r.RoutingCommand) -> str:
        env = wrap(payload, tenant_id=TENANT, key=getattr(payload, payload.KEY), producer="bench")
        await self.producer.send(ROUTING_COMMANDS.name, encode(env), key=env.key.encode())
        return env.event_id

    async def events(self) -> None:
        consumer = AIOKafkaConsumer(ROUTING_EVENTS.name, bootstrap_servers=self.bootstrap, group_id=None,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        try:
            async for record in consumer:
                now = time.monotonic()
                # Plain JSON, not the contracts' validation: the load generator reads 4 events per conversation
                # and, validating each, took more CPU than routing itself (56% of a core at 750 commands/s).
                env = json.loads(record.value)
                kind, p = env["type"], env["payload"]
                if kind in ("platform.CommandAccepted", "platform.CommandRejected"):
                    self.answers[p["command_id"]] = kind
                    self.answered_at.append(now)
                    if kind == "platform.CommandRejected":
                        self.rejections.append(p["reason"])
                elif kind == "routing.ConversationQueued":
                    self.queued_at_event[p["conversation_id"]] = datetime.fromisoformat(env["occurred_at"]).timestamp()
                elif kind == "routing.OfferMade" and p["conversation_id"] not in self.offered_at:
                    cid, made = p["conversation_id"], datetime.fromisoformat(env["occurred_at"]).timestamp()
                    self.offered_at[cid] = now
                    self.received_wall[cid] = time.time()
                    self.made_at[cid] = made
                    if cid in self.queued_at_event:
                        self.queued_to_offer_in_service.append(made - self.queued_at_event[cid])
                    await self.send(r.AcceptOffer(conversation_id=cid, agent_id=p["agent_id"], offer_id=p["offer_id"]))
                    asyncio.get_running_loop().call_later(
                        self.args.hold_s, lambda c=cid: asyncio.ensure_future(
                            self.send(r.EndConversation(conversation_id=c, reason="bench"))))
        finally:
            await consumer.stop()

    async def settle(self, ids: list[str], what: str) -> None:
        deadline = time.monotonic() + 300
        while not set(ids) <= self.answers.keys():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: {len(set(ids) & self.answers.keys())}/{len(ids)} answered")
            await asyncio.sleep(0.2)
        if self.rejections:
            raise RuntimeError(f"{what}: rejected: {self.rejections[:3]}")

    async def setup(self) -> None:
        a, q = self.args.agents, self.args.queues
        ids = [await self.send(r.ConfigureAgent(agent_id=f"agent-{i}", capacity={"chat": self.args.capacity},
                                                skills={"billing": 1 + i % 10})) for i in range(a)]
        await self.settle(ids, "agents")
        methods = ["round_robin", "least_loaded", "skills", "specialist_priority"]
        ids = [await self.send(r.ConfigureQueue(
            queue_id=f"queue-{k}", name=f"Queue {k}", method=methods[k % 4], offer_timeout_s=60,
            members={f"agent-{i}": 1 + i % 3 for i in range(k, a, q)})) for k in range(q)]
        await self.settle(ids, "queues")
        ids = [await self.send(r.SetPresence(agent_id=f"agent-{i}", presence="available")) for i in range(a)]
        await self.settle(ids, "presence")

    async def stall(self, at: float) -> None:
        """SIGSTOP every routing process `--stall-s` seconds long, `--stall-at-s` into the load, then SIGCONT."""
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        stopped = time.monotonic()
        for pid in self.pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(self.args.stall_s)
        finally:
            for pid in self.pids:
                os.kill(pid, signal.SIGCONT)
        self.stalled = (stopped, time.monotonic())

    async def load(self) -> None:
        rng = random.Random(7)
        interval = 1 / self.args.rate
        start = time.monotonic()
        stall = asyncio.create_task(self.stall(start + self.args.stall_at_s)) if self.args.stall_s else None
        for n in range(int(self.args.duration_s * self.args.rate)):
            await asyncio.sleep(max(0.0, start + n * interval - time.monotonic()))
            cid = f"conv-{n}"
            self.sent_at[cid] = time.monotonic()
            self.sent_wall[cid] = time.time()
            await self.send(r.RouteConversation(conversation_id=cid, queue_id=f"queue-{rng.randrange(self.args.queues)}",
                                                customer_name=f"Customer {n}", preview="Hello, I need help",
                                                skills={"billing": rng.randint(1, 5)}))
        if stall is not None:
            await stall
        deadline = time.monotonic() + 60
        while len(self.offered_at) < len(self.sent_at) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)


async def run(args: argparse.Namespace, bootstrap: str, mongo_url: str, broker_pid: int | None = None) -> None:
    await ensure_topics(bootstrap, TOPICS)
    procs: list[tuple[int, subprocess.Popen[bytes]]] = []
    log = Path(tempfile.gettempdir()) / f"bench-routing-{os.getpid()}.log"
    for _ in range(args.instances):  # replicas: one consumer group, one database
        port = free_port()
        procs.append((port, subprocess.Popen(
            [sys.executable, "-m", "services.routing"], stdout=log.open("ab"), stderr=subprocess.STDOUT,
            env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "MONGO_URL": mongo_url,
                 "MONGO_DB": f"routing-bench-{os.getpid()}", "HTTP_PORT": str(port), "LOG_LEVEL": "INFO"})))
    try:
        for port, proc in procs:
            await asyncio.to_thread(wait_for_ready, port, lambda p=proc: p.poll() is None, what=f"routing (log {log})",
                                    timeout_s=120)
        bench = Bench(args, bootstrap)
        bench.pids = [proc.pid for _, proc in procs]
        await bench.producer.start()
        listener = asyncio.create_task(bench.events())
        t0 = time.monotonic()
        await bench.setup()
        print(f"setup: {args.agents} agents, {args.queues} queues configured and available in "
              f"{time.monotonic() - t0:.1f}s", flush=True)
        broker_usage = process_usage(broker_pid) if broker_pid else None
        broker_line = ""
        load_started = time.monotonic()
        # Both loads at once, so both figures see the same machine.
        _, broker = await asyncio.gather(bench.load(), broker_round_trip(bootstrap, args.rate, args.duration_s))
        load_s = time.monotonic() - load_started
        if broker_pid and broker_usage:
            rss, cpu = process_usage(broker_pid)
            broker_line = (f"broker: resident {rss:.0f} MiB at the end; CPU {100 * (cpu - broker_usage[1]) / load_s:.0f}% "
                           f"of one core during the load")
        answered_in_load = [t for t in bench.answered_at if t >= load_started]
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await bench.producer.stop()
    finally:
        for _, proc in procs:
            proc.terminate()
        for _, proc in procs:
            proc.wait(30)
    routed = [bench.offered_at[c] - bench.sent_at[c] for c in bench.sent_at if c in bench.offered_at]
    ms = lambda v: f"{v * 1000:8.1f} ms"  # noqa: E731
    print(f"\nconversations sent {len(bench.sent_at)}, offered {len(routed)} "
          f"({args.rate}/s for {args.duration_s}s, {args.agents} agents x chat capacity {args.capacity}, "
          f"{args.queues} queues, hold {args.hold_s}s, {args.instances} routing instance(s))")
    print(f"{'':42s}{'p50':>11s}{'p99':>11s}")
    print(f"{'routing: command sent -> OfferMade received':42s}{ms(pct(routed, 50))}{ms(pct(routed, 99))}")
    print(f"{'broker: produce -> consume round trip':42s}{ms(pct(broker, 50))}{ms(pct(broker, 99))}")
    print(f"{'ratio routing / broker':42s}{pct(routed, 50) / pct(broker, 50):10.1f}x"
          f"{pct(routed, 99) / pct(broker, 99):10.1f}x")
    # Until --hold-s has passed only arrivals and accepts flow; after it, ends too (three commands per conversation).
    for label, lo, hi in (("  first conversations (no ends yet)", 0, args.hold_s),
                          ("  later conversations (with ends)", args.hold_s, float("inf"))):
        start = min(bench.sent_at.values())
        part = [bench.offered_at[c] - t for c, t in bench.sent_at.items()
                if c in bench.offered_at and lo <= t - start < hi]
        if part:
            print(f"{label:42s}{ms(pct(part, 50))}{ms(pct(part, 99))}   (n={len(part)})")
    start = min(bench.sent_at.values())
    print(f"per minute of the run{'':21s}{'p50':>11s}{'p99':>11s}")
    for minute in range(int((args.duration_s + 59) // 60)):
        part = [bench.offered_at[c] - t for c, t in bench.sent_at.items()
                if c in bench.offered_at and minute * 60 <= t - start < (minute + 1) * 60]
        if part:
            print(f"{f'  minute {minute + 1}':42s}{ms(pct(part, 50))}{ms(pct(part, 99))}   (n={len(part)})")
    if bench.stalled:
        report_stall(bench, args)
    print(f"sustained: routing answered {len(answered_in_load)} commands in {load_s:.0f}s of load "
          f"= {len(answered_in_load) / load_s:.1f} commands/s (sent at {args.rate * 3:.0f}/s once ends start)")
    if broker_line:
        print(broker_line)
    # Where the time goes (one machine, one clock): up to the offer being made in routing's transaction (the
    # command's trip, its wait behind others, the transaction's reads), then from there to the bench (the
    # commit, the outbox relay's publish, the broker's trip).
    made = [c for c in bench.made_at if c in bench.sent_wall]
    if made:
        before = [bench.made_at[c] - bench.sent_wall[c] for c in made]
        after = [bench.received_wall[c] - bench.made_at[c] for c in made]
        print(f"{'  sent -> OfferMade made (in routing)':42s}{ms(pct(before, 50))}{ms(pct(before, 99))}")
        print(f"{'  OfferMade made -> received (commit, relay)':42s}{ms(pct(after, 50))}{ms(pct(after, 99))}")
    if bench.queued_to_offer_in_service:
        print(f"{'in service: Queued -> OfferMade occurred_at':42s}"
              f"{ms(pct(bench.queued_to_offer_in_service, 50))}{ms(pct(bench.queued_to_offer_in_service, 99))}")
    print(f"mean routing {statistics.mean(routed) * 1000:.1f} ms; routing answered {len(bench.answers)} commands "
          f"(setup included); routing log (activity lines every 30 s): {log}")


def report_stall(bench: Bench, args: argparse.Namespace) -> None:
    """p99 of the conversations sent in each second from the stop on, and how long after SIGCONT the backlog took
    to drain: until the p99 of the conversations sent in the next 5 s was back under --target-ms, and back
    within the p99 of those sent before the stop (never offered counts as late)."""
    stopped, resumed = bench.stalled
    late = float("inf")
    sent = bench.sent_at.items()
    before = [bench.offered_at.get(c, late) - t for c, t in sent if t < stopped]

    def p99_between(lo: float, hi: float, q: float = 99) -> float | None:
        part = [bench.offered_at.get(c, late) - t for c, t in sent if lo <= t < hi]
        return pct(part, q) if part else None

    last = max(bench.sent_at.values())
    seconds = [p99_between(stopped + k, stopped + k + 1) for k in range(int(last - stopped) + 1)]
    medians = [p99_between(stopped + k, stopped + k + 1, 50) for k in range(int(last - stopped) + 1)]
    print(f"stall: routing stopped (SIGSTOP) for {resumed - stopped:.1f}s, {args.stall_at_s:.0f}s into the load; "
          f"p99 before it {pct(before, 99) * 1000:.0f} ms")
    print("  p99 by second of sending from the stop (ms): "
          + ", ".join(f"{p99 * 1000:.0f}" if p99 is not None else "-" for p99 in seconds[:int(args.stall_s) + 25]))
    print("  p50 by second of sending from the stop (ms): "
          + ", ".join(f"{p50 * 1000:.0f}" if p50 is not None else "-" for p50 in medians[:int(args.stall_s) + 25]))
    # Drained: a command sent from then on no longer waits behind the stall's backlog, so the p50 of each second's
    # sends is back within twice the p50 before the stop, for 5 s (p50, since a second's p99 is its slowest send).
    bound = 2 * pct(before, 50)
    drained = next((k for k in range(len(medians)) if stopped + k + 5 <= last
                    and all(m is not None and m <= bound for m in medians[k:k + 5])), None)
    print("  backlog drained (each second's p50 within 2x the p50 before the stop, 5 s running): "
          + ("never" if drained is None else f"{max(0.0, stopped + drained - resumed):.1f}s after SIGCONT"))
    for label, bound in ((f"under {args.target_ms:.0f} ms", args.target_ms / 1000),
                         ("within the p99 before the stop", pct(before, 99))):
        back = next((k for k in range(len(seconds)) if stopped + k + 5 <= last
                     and (p := p99_between(stopped + k, stopped + k + 5)) is not None and p <= bound), None)
        when = "never" if back is None else f"{max(0.0, stopped + back - resumed):.1f}s after SIGCONT"
        print(f"  p99 of the next 5 s of sends back {label}: {when}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--rate", type=float, default=20.0, help="new conversations per second")
    parser.add_argument("--duration-s", type=float, default=60.0)
    parser.add_argument("--capacity", type=int, default=3)
    parser.add_argument("--hold-s", type=float, default=20.0, help="how long an agent keeps a conversation")
    parser.add_argument("--instances", type=int, default=1, help="routing processes (replicas)")
    parser.add_argument("--stall-s", type=float, default=0.0, help="SIGSTOP routing this long during the load")
    parser.add_argument("--stall-at-s", type=float, default=20.0, help="when, into the load")
    parser.add_argument("--target-ms", type=float, default=100.0, help="p99 target the stall report measures against")
    parser.add_argument("--kafka")
    parser.add_argument("--mongo-url")
    args = parser.parse_args()
    if args.kafka and args.mongo_url:
        asyncio.run(run(args, args.kafka, args.mongo_url))
        return
    t0 = time.monotonic()
    with local_infrastructure("omni-bench-") as (mongo, kafka):
        print(f"mongod and broker started in {time.monotonic() - t0:.1f}s", flush=True)
        asyncio.run(run(args, kafka.bootstrap_servers, mongo.url, kafka.pid))


if __name__ == "__main__":
    main()
