"""A restart in the middle of the projection leaves the line lists exact: the customer service, as its own
process, follows chat's events from the real broker, is killed (SIGKILL) while it works through them, and
is started again; every row ends as the events say, none twice, nothing lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from services.customer.adapters.lines import LINE_USERS
from shared.broker import producer_config
from shared.contracts import chat
from shared.contracts.catalogue import CHAT_EVENTS
from shared.contracts.envelope import encode, wrap
from shared.localstack.processes import free_port, wait_for_ready
from shared.mongo import make_mongo_client
from shared.settings import ServiceSettings
from shared.testing.fixtures import service_env

pytestmark = pytest.mark.integration

USERS, MESSAGES = 200, 4
T0 = datetime(2026, 11, 30, 9, tzinfo=UTC)


def events(tenant: str) -> list[object]:
    out: list[object] = []
    for n in range(USERS):
        cid, customer = f"c{n}", f"u{n}"
        out.append(chat.ConversationStarted(conversation_id=cid, queue_id="support", proactive=False, started_at=T0,
                                            customer=chat.Customer(customer_id=customer, name=f"User {n}"),
                                            context=chat.Context()))
        for m in range(MESSAGES):
            out.append(chat.MessagePosted(
                conversation_id=cid, message_id=f"{cid}-{m}", seq=m + 1, client_message_id=None,
                sender=chat.Sender(kind="customer", id=customer), text=f"message {m} of {customer}", private=False,
                customer_id=customer, agents=[], sent_at=T0 + timedelta(seconds=n + m)))
        if n % 2:
            out.append(chat.ConversationStateChanged(conversation_id=cid, state="active", previous="queued",
                                                     queue_id="support", agents=["alice"], customer_id=customer,
                                                     why="test", at=T0))
    return out


def start(env: dict[str, str], port: int, log: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "services.customer"], env=env, stdout=open(log, "ab"),  # noqa: SIM115
                            stderr=subprocess.STDOUT)
    wait_for_ready(port, lambda: proc.poll() is None, what=f"customer (log {log})", timeout_s=120)
    return proc


async def test_a_killed_projection_resumes_and_ends_exact(infrastructure, unique, tmp_path):
    tenant, db_name, port = f"t-{unique}", f"customer-{unique}", free_port()
    env = service_env(infrastructure, MONGO_DB=db_name, SERVICE_NAME=f"customer-{unique}", HTTP_PORT=str(port))
    log = str(tmp_path / "customer.log")
    client = make_mongo_client(ServiceSettings(mongo_url=infrastructure.mongo_url))
    rows = client[db_name][LINE_USERS]
    proc = start(env, port, log)
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap,
                                **producer_config(ServiceSettings()))
    await producer.start()
    try:
        for event in events(tenant):
            env_ = wrap(event, tenant_id=tenant, key=event.conversation_id, producer="chat")  # type: ignore[attr-defined]
            await producer.send(CHAT_EVENTS.name, encode(env_), key=env_.key.encode())
        await producer.flush()
        deadline = asyncio.get_running_loop().time() + 60
        while await rows.count_documents({"tenant_id": tenant, "preview": {"$ne": ""}}) < USERS // 4:
            assert asyncio.get_running_loop().time() < deadline, "the projection did not start"
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # mid-projection: some events handled, their offsets maybe not committed
        proc.wait(30)
        def exact(doc: dict) -> bool:
            n = int(doc["customer_id"][1:])
            return (doc["preview"] == f"message {MESSAGES - 1} of u{n}"
                    and doc["last_message_at"] == T0 + timedelta(seconds=n + MESSAGES - 1)
                    and doc["open_with"] == (["alice"] if n % 2 else []) and doc["version"] == MESSAGES + 1 + n % 2)

        exact_at_kill = sum(exact(d) for d in await rows.find({"tenant_id": tenant}).to_list())
        proc = start(env, port, log)
        deadline = asyncio.get_running_loop().time() + 120
        while True:
            docs = await rows.find({"tenant_id": tenant}).to_list()
            if len(docs) == USERS and all(exact(d) for d in docs):
                break
            assert asyncio.get_running_loop().time() < deadline, (
                f"{len(docs)} rows, {sum(exact(d) for d in docs)} exact; e.g. "
                f"{next((d for d in docs if not exact(d)), None)}")
            await asyncio.sleep(0.2)
        assert exact_at_kill < USERS  # the kill came before the end
    finally:
        await producer.stop()
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        await client.drop_database(db_name)
        await client.close()
