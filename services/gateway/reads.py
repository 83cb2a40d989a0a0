"""Helpers the staff and widget routes share: reads from services' internal APIs and typing indicators."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import HTTPException

from services.gateway.adapters.store import agent_stream, customer_stream, push


async def service_read(client: httpx.AsyncClient, service: str, path: str, *, body: Any = None, **params: Any
                       ) -> Any:
    """A read from a service's internal API, passed on (its 404 stays a 404; the service down is a 503); with a
    `body`, a POST (a read whose question is too long for a query string, such as a search's scope)."""
    try:
        if body is None:
            response = await client.get(path, params=params)
        else:
            response = await client.post(path, json=body, params=params)
    except httpx.HTTPError as exc:
        raise HTTPException(503, detail={"error": "unavailable",
                                         "detail": f"{service} is not answering ({type(exc).__name__})"}) from None
    if response.status_code == 404:
        raise HTTPException(404, detail={"error": "not_found", "detail": "Not found."})
    if response.status_code == 422:  # the read refused its parameters (a cursor it did not give out): say why
        raise HTTPException(422, detail={"error": "invalid", "detail": response.json().get("detail")})
    if response.status_code != 200:
        raise HTTPException(502, detail={"error": "upstream", "detail": f"{service} answered {response.status_code}"})
    return response.json()


async def chat_read(gw: Any, path: str, **params: Any) -> Any:
    """A read from chat's internal API (service_read)."""
    return await service_read(gw.chat, "chat", path, **params)


async def push_typing(gw: Any, tenant_id: str, conversation_id: str, view: dict[str, Any] | None,
                      who: dict[str, str]) -> None:
    """A typing indicator goes straight onto the other participants' streams: chat does not store it."""
    if view is None:
        return
    frame = {"type": "typing", "conversation_id": conversation_id, "who": who}
    recipients = [agent_stream(tenant_id, a) for a in view.get("agents", []) if a != who["id"]]
    if who["kind"] != "customer":
        recipients.append(customer_stream(tenant_id, conversation_id))
    await push(gw.db, [(r, frame) for r in recipients])
