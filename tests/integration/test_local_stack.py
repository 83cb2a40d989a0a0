"""`./dev run` (python -m shared.localstack) keeps its data: a second run on the same folder finds the
queue, agents and records the first run created, and does not handle the first run's commands again.
`--reset` wipes it."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.contracts import routing as r
from shared.contracts.catalogue import ROUTING_COMMANDS, ROUTING_EVENTS
from shared.localstack.processes import free_port
from shared.testing.kafka import CommandSender, TopicReader

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # about 100 s: two starts of the stack (CI runs it)

ANSWERS = ("platform.CommandAccepted", "platform.CommandRejected")


class Stack:
    """The local stack as a user runs it, on its own ports, its output collected line by line."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.mongo_port, self.kafka_port, self.controller_port = free_port(), free_port(), free_port()
        self.port_offset = free_port(101, 102, 103, 104) - 8000  # the gateway at p, the others at p+101..
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def argv(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "shared.localstack", "--dir", str(self.root), "--mongo-port", str(self.mongo_port),
                "--kafka-port", str(self.kafka_port), "--kafka-controller-port", str(self.controller_port),
                "--port-offset", str(self.port_offset), *extra]

    def start(self) -> None:
        self.lines = []
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")), daemon=True).start()

    async def wait_ready(self, timeout_s: float = 180) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not any("gateway listens" in line for line in self.lines):
            if self.proc.poll() is not None or asyncio.get_running_loop().time() > deadline:
                pytest.fail("stack did not become ready:\n" + "".join(self.lines[-30:]))
            await asyncio.sleep(0.2)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)  # Ctrl-C
        return self.proc.wait(120)


@pytest.fixture
def stack() -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="omni-stack-") as d:
        s = Stack(Path(d))
        yield s
        if s.proc is not None and s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()
            subprocess.run(s.argv("--reset"), capture_output=True, timeout=60)  # stops leftover children


def answered(events: TopicReader, tenant: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for e in events.envelopes:
        if e.tenant_id == tenant and e.type in ANSWERS:
            found.setdefault(e.payload.command_id, set()).add(e.event_id)
    return found


async def test_a_second_run_finds_what_the_first_created_and_reset_wipes_it(stack, unique):
    tenant = f"t-{unique}"
    stack.start()
    await stack.wait_ready()
    async with CommandSender(stack.bootstrap, ROUTING_COMMANDS.name, tenant_id=tenant) as commands, \
            TopicReader(stack.bootstrap, ROUTING_EVENTS.name) as events:
        first = [await commands.send(r.ConfigureAgent(agent_id="a1", capacity={"chat": 2})),
                 await commands.send(r.ConfigureQueue(queue_id="q1", name="Billing", members={"a1": 1})),
                 await commands.send(r.SetPresence(agent_id="a1", presence="available"))]
        ids = {e.event_id for e in first}
        await events.wait_for(lambda envs: ids <= answered(events, tenant).keys())
    assert stack.stop() == 0, "".join(stack.lines[-30:])
    assert any("broker and mongod stopped" in line for line in stack.lines)

    stack.start()
    await stack.wait_ready()
    async with CommandSender(stack.bootstrap, ROUTING_COMMANDS.name, tenant_id=tenant) as commands, \
            TopicReader(stack.bootstrap, ROUTING_EVENTS.name) as events:
        # Kafka kept the first run's records...
        await events.wait_for(lambda envs: ids <= answered(events, tenant).keys())
        # ...and MongoDB its state: the queue and the available agent from the first run take a conversation.
        await commands.send(r.RouteConversation(conversation_id="c1", queue_id="q1", customer_name="Ann"))
        offers = await events.wait_for(lambda envs: [e.payload for e in envs if e.tenant_id == tenant
                                                     and e.type == "routing.OfferMade"])
        assert offers[0].agent_id == "a1" and offers[0].queue_id == "q1"
        # None of the first run's commands was answered a second time.
        assert all(len(answered(events, tenant)[i]) == 1 for i in ids)
    assert stack.stop() == 0, "".join(stack.lines[-30:])

    data = stack.root / "data"
    assert (data / "kafka" / "log" / "meta.properties").exists() and (data / "mongo" / "db").is_dir()
    reset = subprocess.run(stack.argv("--reset"), capture_output=True, text=True, timeout=60)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert not data.exists()
