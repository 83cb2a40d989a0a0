"""Routing obeys an erasure (privacy) on the fakes: the erased conversations' work items lose the customer's name
and preview; another conversation's item and another tenant's are untouched; the record keeps ids and counts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.routing.adapters.work_items import ITEMS, item_to_doc
from services.routing.domain.model import WorkItem
from services.routing.erasure import ErasureHandler
from shared.contracts import chat
from shared.contracts.envelope import wrap
from shared.mongo import consuming
from shared.testing.fakes import FakeUnitOfWork

pytestmark = pytest.mark.unit
T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)


def item(conversation_id: str) -> WorkItem:
    return WorkItem(conversation_id=conversation_id, queue_id="q1", customer_id="cu1", customer_name="Dana Ozola",
                    preview="My card ************1111", enqueued_at=T0, created_at=T0)


async def test_the_erased_conversations_work_items_lose_name_and_preview():
    uow = FakeUnitOfWork()
    for tenant, cid in (("t1", "c1"), ("t1", "c2"), ("t2", "c1")):
        doc = item_to_doc(tenant, item(cid), T0)
        uow.docs.setdefault(ITEMS, {})[doc["_id"]] = doc
    event = chat.CustomerErased(contact_id="k1", customer_ids=["cu1"], conversation_ids=["c1"], counts={},
                                erased_by="root", at=T0)
    env = wrap(event, tenant_id="t1", key="k1", producer="chat")
    with consuming(env.event_id):
        await ErasureHandler(uow).on_customer_erased(env)
    items = uow.docs[ITEMS]
    assert (items["t1|c1"]["customer_name"], items["t1|c1"]["preview"]) == ("Erased customer", "[erased]")
    assert items["t1|c2"]["customer_name"] == items["t2|c1"]["customer_name"] == "Dana Ozola"
    run = uow.docs["erasures"]["t1|k1"]["runs"][0]
    assert run["counts"] == {"work_items": 1} and run["conversation_ids"] == ["c1"] and run["by"] == "root"
