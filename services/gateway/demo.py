"""`python -m services.gateway.demo --url http://127.0.0.1:8000`: a demo tenant a newcomer can try at once.

Creates (once) tenant `demo` with admin `admin` (supervising queue `support`), agents `alice` and `bob`, queue `support` with both as members
and two wrap-up reasons, through the gateway's own admin API; prints the sign-ins. Run by `./dev run`."""

from __future__ import annotations

import argparse
import asyncio
import sys

import httpx

from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant

TENANT, ADMIN, ADMIN_PASSWORD, AGENT_PASSWORD = "demo", "admin", "demo-admin-password", "demo-agent-password"
AGENTS = ("alice", "bob")


async def seed(url: str) -> list[str]:
    created = await create_tenant(GatewaySettings(), TENANT, ADMIN, ADMIN_PASSWORD)
    if created:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            signed = await http.post("/v1/auth/sign-in", json={"tenant_id": TENANT, "username": ADMIN,
                                                               "password": ADMIN_PASSWORD})
            signed.raise_for_status()
            http.headers["authorization"] = f"Bearer {signed.json()['access_token']}"
            for agent in AGENTS:
                (await http.post("/v1/admin/staff", json={"user_id": agent, "password": AGENT_PASSWORD,
                                                          "capacity": {"chat": 3}})).raise_for_status()
            (await http.put("/v1/admin/queues/support", json={
                "name": "Support", "members": dict.fromkeys(AGENTS, 1), "offer_timeout_s": 30,
                "wrap_up_required": True})).raise_for_status()
            # the admin supervises the queue, so it may read its conversations (and, by the masking policy, originals)
            (await http.patch(f"/v1/admin/staff/{ADMIN}", json={"supervises": ["support"]})).raise_for_status()
            (await http.put("/v1/admin/wrap-up-reasons", json={"reasons": [
                {"code": "resolved", "label": "Resolved"},
                {"code": "follow-up", "label": "Needs a follow-up"}]})).raise_for_status()
    return [f"tenant {TENANT}: admin {ADMIN} / {ADMIN_PASSWORD} (supervises queue support)",
            *(f"tenant {TENANT}: agent {a} / {AGENT_PASSWORD}" for a in AGENTS),
            f"queue 'support' (members {', '.join(AGENTS)}); wrap-up reasons: resolved, follow-up"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the gateway")
    lines = asyncio.run(seed(parser.parse_args().url))
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
