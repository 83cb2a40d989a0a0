"""A request about a conversation logs with its id, as a consumed message about it does (shared/logging.py)."""

from __future__ import annotations

import httpx
import pytest
import structlog
from fastapi import FastAPI

from shared.logging import request_context

pytestmark = pytest.mark.unit


async def test_a_request_about_a_conversation_binds_its_id_and_another_request_does_not():
    app = FastAPI()

    @app.get("/v1/widget/conversations/{conversation_id}/messages")
    async def messages(conversation_id: str) -> dict:
        return {"bound": structlog.contextvars.get_contextvars().get("conversation_id")}

    @app.get("/v1/queues/{queue_id}")
    async def queue(queue_id: str) -> dict:
        return {"bound": structlog.contextvars.get_contextvars().get("conversation_id")}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=request_context(app)), base_url="http://s") as http:
        assert (await http.get("/v1/widget/conversations/c-42/messages")).json() == {"bound": "c-42"}
        assert (await http.get("/v1/queues/q1")).json() == {"bound": None}
    assert "conversation_id" not in structlog.contextvars.get_contextvars()
