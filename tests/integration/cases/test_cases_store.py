"""Cases on the real mongod: numbers stay unique when two service instances open cases at once (transactions
conflict and run again), search ranks number, title and customer and stays in its tenant, and every read
query is served by an index without an in-memory sort."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from services.cases.adapters.store import CASES
from services.cases.handlers import CasesHandlers
from shared.contracts import cases as c
from shared.contracts import customer
from shared.text import prefix_query
from tests.unit.cases.harness import started

pytestmark = pytest.mark.integration


def open_case(case_id: str, title: str, **fields: object) -> c.OpenCase:
    return c.OpenCase(case_id=case_id, fields=c.CaseFields(title=title, **fields))


async def test_two_instances_opening_cases_at_once_never_share_a_number(service):
    other = CasesHandlers(service.uow)  # a second instance on the same database
    await asyncio.gather(*(service.send(open_case(f"k{n}", f"Case {n}"), handlers=(other if n % 2 else None))
                           for n in range(24)))
    numbers = [d["number"] async for d in service.db[CASES].find({"tenant_id": "t1"})]
    assert sorted(numbers) == [f"CAS-{n:06d}" for n in range(1, 25)]


async def test_search_ranks_number_then_title_then_customer_within_the_tenant(service):
    await service.feed(customer.ContactChanged(contact_id="ann", version=1, full_name="Ann Printz", account_id=None,
                                               changed=["full_name"], at=datetime.now(UTC)))
    await service.send(open_case("k1", "Printer jams", contact_id="bob"))
    await service.send(open_case("k2", "Invoice missing", contact_id="ann"))
    await service.send(open_case("k3", "Printing twice"))
    await service.send(open_case("k1", "Printer jams"), tenant="t2")

    async def search(q: str, tenant: str = "t1") -> list[tuple[str, str]]:
        return [(h["case_id"], h["matched"]) for h in
                (await service.get(f"/internal/tenants/{tenant}/cases", q=q))["hits"]]

    assert await search("CAS-000002") == [("k2", "number")]
    assert await search("2") == [("k2", "number")]
    assert await search("printer") == [("k1", "title")]  # neither "printing" nor "Printz" is "printer..."
    assert await search("print") == [("k3", "title_prefix"), ("k1", "title_prefix"), ("k2", "customer")]
    assert await search("printer jams") == [("k1", "title")]
    assert await search("printz") == [("k2", "customer")]
    assert await search("ann") == [("k2", "customer_id")]  # its contact id ranks before its name
    assert await search("printz", tenant="t2") == []
    assert await search("bob") == [("k1", "customer_id")]
    recent = (await service.get("/internal/tenants/t1/contacts/ann/cases"))["hits"]
    assert [h["case_id"] for h in recent] == ["k2"] and recent[0]["customer_name"] == "Ann Printz"
    missing = await service.http.get("/internal/tenants/t2/cases/k2")
    assert missing.status_code == 404 and "does not exist in tenant t2" in missing.json()["detail"]


async def test_every_read_query_uses_an_index_without_sorting_in_memory(service):
    for n in range(40):
        await service.send(open_case(f"k{n}", f"Router {n} slow{n}", contact_id=f"p{n % 4}"))
    checks = [
        ({"tenant_id": "t1", **prefix_query(["rout"], "title_words")}, "title_words", None),
        ({"tenant_id": "t1", **prefix_query(["router", "slow1"], "title_words")}, "title_words", None),
        ({"tenant_id": "t1", "number": "CAS-000007"}, None, None),
        ({"tenant_id": "t1", "contact_id": "p1"}, None, [("created_at", -1)]),
    ]
    for query, hint, sort in checks:
        command = {"find": CASES, "filter": query, "limit": 10, **({"hint": hint} if hint else {}),
                   **({"sort": dict(sort)} if sort else {})}
        stats = await service.db.command("explain", command, verbosity="executionStats")
        plan = str(stats["queryPlanner"]["winningPlan"])
        assert "IXSCAN" in plan and "COLLSCAN" not in plan and "'SORT'" not in plan, (query, plan)
        assert stats["executionStats"]["totalDocsExamined"] <= 10, (query, stats["executionStats"])


async def test_a_case_opened_while_its_conversation_starts_ends_linked_with_its_customer(service):
    """The chaos profile's race (seed 49599) on the real mongod: the command and the start touch the same
    conversation at once; whichever commits second runs again, and either order ends the same."""
    await service.feed(customer.CustomerLinked(customer_id="visitor-1", conversation_id="conv0", contact_id="ann",
                                               account_id=None, name="Ann", company=None, at=datetime.now(UTC)))
    unheard = await service.get("/internal/tenants/t1/conversations/conv0/case")  # before its start and any case
    assert (unheard["case_id"], unheard["contact_id"]) == (None, None)
    for n in range(6):
        conversation = f"conv{n}"
        opening = service.send(c.OpenCase(case_id=f"k{n}", fields=c.CaseFields(title="Refund"),
                                          conversation_id=conversation))
        starting = service.feed(started(conversation))
        await asyncio.gather(*((opening, starting) if n % 2 else (starting, opening)))
        found = await service.get(f"/internal/tenants/t1/conversations/{conversation}/case")
        assert (found["case_id"], found["contact_id"]) == (f"k{n}", "ann")
        case = await service.get(f"/internal/tenants/t1/cases/k{n}")
        assert (case["contact_id"], case["conversations"]) == ("ann", [conversation]), case
