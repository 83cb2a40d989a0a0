"""Customer's contacts, accounts and search on the real mongod: the handlers write through the MongoDB
unit of work, the read API answers over HTTP, and every search query is served by an index."""

from __future__ import annotations

from typing import Any

import pytest

from services.customer.adapters.store import CONTACTS
from shared.contracts import customer as c
from shared.contracts.envelope import Actor

pytestmark = pytest.mark.integration

ADMIN = Actor(user_id="root", role="admin")


def person(cid: str, name: str, **fields: Any) -> c.CreateContact:
    return c.CreateContact(contact_id=cid, actor=ADMIN, fields=c.ContactFields(full_name=name, **fields))


async def test_search_by_each_field_ranked_exact_first_then_whole_words_then_prefixes(service):
    await service.send(c.CreateAccount(account_id="a1", actor=ADMIN, fields=c.AccountFields(
        name="Ābols un Partneri", tax_id="LV40003521600", country="LV")))
    await service.send(person("k1", "Jānis Ābols", email="janis@abols.lv", phone="+371 29 123 456", login_id="jabols",
                              account_id="a1"))
    await service.send(person("k2", "Anna Abolina", email="anna@example.com"))
    await service.send(person("k3", "Abo Kalns"))
    await service.send(person("k9", "Jānis Ābols"), tenant="t2")  # another tenant's: never found

    assert await service.search("janis@ABOLS.lv") == [("contact", "k1", "email")]
    assert await service.search("+371 29123456") == [("contact", "k1", "phone")]
    assert await service.search("jabols") == [("contact", "k1", "login_id")]
    assert await service.search("LV 4000 3521 600") == [("account", "a1", "tax_id")]
    assert await service.search("40003521600") == [("account", "a1", "tax_id")]
    # Case- and accent-insensitive words; the whole word ranks before prefixes, contacts before accounts.
    assert await service.search("ABOLS") == [("contact", "k1", "name"), ("account", "a1", "name")]
    assert await service.search("abo") == [("contact", "k3", "name"), ("contact", "k2", "name_prefix"),
                                           ("contact", "k1", "name_prefix"), ("account", "a1", "name_prefix")]
    assert await service.search("jan ab") == []  # every word but the last must be whole
    assert await service.search("janis ab") == [("contact", "k1", "name_prefix")]
    assert await service.search("partneri") == [("account", "a1", "name")]
    assert await service.search("nobody") == []
    assert (await service.http.get("/internal/tenants/t1/search", params={"q": ""})).status_code == 422


async def test_a_contact_reads_back_with_its_version_and_another_tenants_is_404(service):
    await service.send(person("k1", "Anna Abolina", phone="29123456", region="LV"))
    got = await service.http.get("/internal/tenants/t1/contacts/k1")
    assert got.status_code == 200 and got.json()["phone"] == "+37129123456" and got.json()["version"] == 1
    missing = await service.http.get("/internal/tenants/t2/contacts/k1")
    assert missing.status_code == 404 and "does not exist in tenant t2" in missing.json()["detail"]


async def test_every_search_query_uses_an_index(service):
    for n in range(30):
        await service.send(person(f"k{n}", f"Person {n} Name{n}", email=f"p{n}@example.com"))
    plans = []
    queries = [{"tenant_id": "t1", "email": "p3@example.com"},
               {"tenant_id": "t1", "$and": [{"words": "person"}, {"words": {"$elemMatch": {"$gte": "name1", "$lt": "name1\U0010ffff"}}}]},
               {"tenant_id": "t1", "$and": [{"words": {"$elemMatch": {"$gte": "pers", "$lt": "pers\U0010ffff"}}}]}]
    for query in queries:  # as adapters/queries.py asks: identifiers by their index, names by the words index
        cursor = service.db[CONTACTS].find(query).limit(20)
        explained = await (cursor if "email" in query else cursor.hint("words")).explain()
        plans.append(str(explained["queryPlanner"]["winningPlan"]))
        stats = await service.db.command("explain", {"find": CONTACTS, "filter": query, "limit": 20,
                                                     **({} if "email" in query else {"hint": "words"})},
                                         verbosity="executionStats")
        assert stats["executionStats"]["totalDocsExamined"] <= 20, (query, stats["executionStats"])
    assert all("IXSCAN" in p and "COLLSCAN" not in p and "SORT" not in p for p in plans), plans
    # an identifier probe on a field most contacts leave empty still finds its index (partial on $exists)
    explained = await service.db[CONTACTS].find({"tenant_id": "t1", "login_id": "nobody"}).explain()
    assert "'login_id': 1" in str(explained["queryPlanner"]["winningPlan"]), explained  # not a scan of the tenant
