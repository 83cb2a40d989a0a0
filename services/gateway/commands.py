"""Sending a command for a frontend and answering with the owner's answer.

The command goes through the gateway's outbox (so a broker outage loses nothing); the endpoint then waits
for the owner's CommandAccepted or CommandRejected (its request id) up to `answer_timeout_s`: accepted is
200, rejected the status of shared.contracts.answers' table with the reason, no answer in time a 504 that
names the URL where the answer can be fetched later. An Idempotency-Key header makes the request id: the
same key from the same user gets the first answer, and the owner does the work once."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import uuid4

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from shared.commands import key_of
from shared.contracts.answers import CommandAccepted, http_status
from shared.contracts.catalogue import Topic
from shared.contracts.envelope import Actor, Command, wrap
from shared.mongo import MongoUnitOfWork, Transaction
from shared.tracing import annotate

from services.gateway.adapters.store import ANSWERS_SEEN
from services.gateway.live import Hub


class Answer(BaseModel):
    """The owner's answer to a command."""
    status: str = Field(description="accepted, rejected, or pending (no answer yet: fetch answer_url later).")
    request_id: str = Field(description="The command's request id.")
    result_id: str | None = Field(None, description="Id of what the command created, if anything.")
    code: str | None = Field(None, description="Rejection code (see the gateway README's table).")
    reason: str | None = Field(None, description="Why it was rejected, in words.")
    answer_url: str | None = Field(None, description="Where the answer can be fetched later (pending only).")


KEYED = "key-"  # request ids made from an Idempotency-Key start with this; others are random and never repeat


def request_id_for(tenant_id: str, user_id: str, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return uuid4().hex
    return KEYED + hashlib.sha256(f"{tenant_id}\0{user_id}\0{idempotency_key}".encode()).hexdigest()[:32]


def new_id_for(request_id: str) -> str:
    """The id of what a command creates: for a keyed request made from its request id, so a retry (the first
    answer lost, still pending) names the same conversation; otherwise random."""
    if request_id.startswith(KEYED):
        return hashlib.sha256(f"created\0{request_id}".encode()).hexdigest()[:32]
    return uuid4().hex


def result_id(response: JSONResponse) -> str | None:
    """The id of what an accepted command created, from its answer response."""
    return json.loads(bytes(response.body)).get("result_id")


def answer_response(request_id: str, stored: dict[str, Any] | None) -> JSONResponse:
    if stored is None:
        body = Answer(status="pending", request_id=request_id, answer_url=f"/v1/requests/{request_id}")
        return JSONResponse(body.model_dump(), status_code=504)
    answer = stored["answer"]
    if stored["type"] == CommandAccepted.TYPE:
        return JSONResponse(Answer(status="accepted", request_id=request_id,
                                   result_id=answer.get("result_id")).model_dump())
    body = Answer(status="rejected", request_id=request_id, code=answer["code"], reason=answer["reason"])
    return JSONResponse(body.model_dump(), status_code=http_status(answer["code"]))


async def first_answer(bus: CommandBus, tenant_id: str, user_id: str, idempotency_key: str | None
                       ) -> JSONResponse | None:
    """A keyed request already answered: its first answer, to return before anything else is checked. A retry
    (the first response lost to a dead gateway or a dropped connection) must get that answer even when the state
    has moved on since: the agent who transferred a conversation no longer holds it, and checking that first
    refused the retry of the very transfer that succeeded (found by the chaos harness)."""
    if idempotency_key is None:
        return None
    request_id = request_id_for(tenant_id, user_id, idempotency_key)
    stored = await bus.stored_answer(tenant_id, request_id)
    return None if stored is None else answer_response(request_id, stored)


class CommandBus:
    def __init__(self, uow: MongoUnitOfWork, hub: Hub, *, producer: str, timeout_s: float) -> None:
        self.uow = uow
        self.hub = hub
        self.producer = producer
        self.timeout_s = timeout_s

    async def send(self, topic: Topic, command: Command, *, tenant_id: str, actor: Actor) -> JSONResponse:
        command = command.model_copy(update={"actor": actor})
        key = f"{tenant_id}:{command.request_id}"
        if command.request_id.startswith(KEYED):  # only a keyed request can be a retry
            stored = await self.uow.db[ANSWERS_SEEN].find_one({"_id": key})
            if stored is not None:  # a retry of an answered request: the first answer, nothing sent again
                return answer_response(command.request_id, stored)
        await self._emit(topic, command, tenant_id)
        return answer_response(command.request_id, await self.hub.wait_answer(key, self.timeout_s))

    async def fire(self, topic: Topic, command: Command, *, tenant_id: str, actor: Actor) -> None:
        """Send without waiting (setup steps whose answers nobody reads at once)."""
        await self._emit(topic, command.model_copy(update={"actor": actor}), tenant_id)

    async def _emit(self, topic: Topic, command: Command, tenant_id: str) -> None:
        env = wrap(command, tenant_id=tenant_id, key=key_of(command), producer=self.producer)
        # the request's span (a widget's start learns its conversation's id only here)
        annotate(conversation_id=getattr(command, "conversation_id", None), command_type=env.type)

        async def work(tx: Transaction) -> None:
            tx.emit(topic.name, env)
        await self.uow.run(work, message_id=None)

    async def stored_answer(self, tenant_id: str, request_id: str) -> dict[str, Any] | None:
        return await self.uow.db[ANSWERS_SEEN].find_one({"_id": f"{tenant_id}:{request_id}"})
