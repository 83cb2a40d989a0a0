"""Operations through the running system: every service serves Prometheus metrics at /metrics (issue 16)."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.registry import SERVICES
from tests.e2e.helpers import available, eventually

pytestmark = pytest.mark.e2e


async def metrics(url: str) -> dict[str, list]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


async def test_every_service_serves_its_metrics_and_the_gateway_counts_its_sockets(system, tenant):
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    await tenant.stream(alice)
    await available(alice)
    for service in SERVICES:
        families = await metrics(system.service_url(service.name))
        assert {"consumer_records", "consumer_lag_records", "consumer_lag_seconds", "dead_letters",
                "consumer_batch_seconds", "unit_of_work", "outbox_pending_rows",
                "outbox_oldest_pending_seconds"} <= families.keys(), (service.name, sorted(families))
    gateway = await metrics(system.gateway_url)
    assert gateway["websocket_streams_open"][0].value >= 1
    put = [s for s in gateway["http_request_seconds"] if s.name == "http_request_seconds_count"
           and s.labels["route"] == "/v1/agent/presence" and s.labels["method"] == "PUT"]
    assert put and put[0].value >= 1, "the presence change is timed under its route template"
    routing = await eventually(lambda: metrics(system.service_url("routing")),
                               lambda f: any(s.value > 0 for s in f["consumer_records"]
                                             if s.labels.get("outcome") == "handled"), "routing counted commands")
    assert routing["unit_of_work"]
