"""Steps the browser tests share: set up a tenant, sign an agent in, check a page with axe."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from shared.testing.tenants import PASSWORD

from .conftest import SCREENSHOTS

AXE = Axe()


async def support_tenant(tenant: Any, *agents: str) -> None:
    """Agents in queue `support` (wrap-up reason required), the survey on, a quick reply `/greet`."""
    for agent in agents:
        created = await tenant.admin.post("/v1/admin/staff", {"user_id": agent, "password": PASSWORD, "role": "agent",
                                                             "capacity": {"chat": 2}})
        assert created.status_code == 200, created.text
    await tenant.queue("support", list(agents[:1]), wrap_up_required=True)
    for path, body in (("/v1/admin/wrap-up-reasons", {"reasons": [{"code": "resolved", "label": "Resolved"}]}),
                       ("/v1/admin/survey", {"enabled": True, "question": "How did we do?"}),
                       ("/v1/admin/quick-replies/greet", {"text": "Hello {customer_name}, I am {agent_name}."})):
        response = await tenant.admin.put(path, body)
        assert response.status_code == 200, response.text


async def sign_in(page: Page, tenant_id: str, user: str) -> None:
    await page.get_by_label("Tenant").fill(tenant_id)
    await page.get_by_label("User name").fill(user)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("tab", name="Home")).to_be_visible()


async def accessible(page: Page, what: str) -> None:
    """axe-core on the page as it is now: no serious or critical violation."""
    results = await AXE.run(page)
    bad = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
           for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{what}: {bad}"


async def screenshot(page: Page, name: str) -> None:
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def desk_with_a_chat(pages: Any, tenant: Any, user: str, name: str, text: str
                           ) -> tuple[Page, Any, dict[str, Any]]:
    """The agent's desktop, signed in and available, with a customer's new chat accepted from its offer and
    focused: (the desktop, the customer's API client, the start's answer)."""
    desk = await pages.open(f"/web/desk.html?tenant={tenant.id}")
    await sign_in(desk, tenant.id, user)
    await desk.get_by_label("Presence").select_option("available")
    customer, started = await tenant.customer("support", text, name=name)
    await desk.get_by_role("group", name=f"Offer: {name}").get_by_role("button", name="Accept").click()
    await expect(desk.get_by_role("tab", name=name)).to_have_attribute("aria-selected", "true")
    return desk, customer, started
