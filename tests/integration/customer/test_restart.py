"""A restart in the middle of the projection leaves the line lists exact: the customer service, as its own
process, follows chat's events from the real broker, is killed (SIGKILL) while it works through them, and
is started again; every row ends as the events say, none twice, nothing lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.customer.adapters.lines import LINE_USERS
from shared.contracts import chat
from shared.contracts.catalogue import CHAT_EVENTS
from shared.contracts.envelope import wrap
from shared.mongo import make_mongo_client
from shared.settings import ServiceSettings
from shared.testing.kafka import publish_all
from shared.testing.service_process import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # CI runs it (.ci/run); the default run stays under 15 minutes

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


async def test_a_killed_projection_resumes_and_ends_exact(infrastructure, unique, tmp_path):
    tenant = f"t-{unique}"
    customer = ServiceProcess("customer", infrastructure, unique, tmp_path)
    client = make_mongo_client(ServiceSettings(mongo_url=infrastructure.mongo_url))
    rows = client[customer.db_name][LINE_USERS]
    try:
        customer.start()
        await publish_all(infrastructure.kafka_bootstrap, [
            (CHAT_EVENTS.name, wrap(event, tenant_id=tenant, key=event.conversation_id, producer="chat"))  # type: ignore[attr-defined]
            for event in events(tenant)])
        deadline = asyncio.get_running_loop().time() + 60
        while await rows.count_documents({"tenant_id": tenant, "preview": {"$ne": ""}}) < USERS // 4:
            assert asyncio.get_running_loop().time() < deadline, "the projection did not start"
            await asyncio.sleep(0.05)
        customer.kill()  # mid-projection: some events handled, their offsets maybe not committed
        def exact(doc: dict) -> bool:
            n = int(doc["customer_id"][1:])
            return (doc["preview"] == f"message {MESSAGES - 1} of u{n}"
                    and doc["last_message_at"] == T0 + timedelta(seconds=n + MESSAGES - 1)
                    and doc["open_with"] == (["alice"] if n % 2 else []) and doc["version"] == MESSAGES + 1 + n % 2)

        exact_at_kill = sum(exact(d) for d in await rows.find({"tenant_id": tenant}).to_list())
        customer.start()
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
        customer.stop()
        await client.drop_database(customer.db_name)
        await client.close()
