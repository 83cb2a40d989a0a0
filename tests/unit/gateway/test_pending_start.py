"""A visitor's start the owner did not answer in time (504): found by the chaos harness, the answer_url it named
needs a token the visitor did not have yet, so the conversation went on without its customer. The 504 now
carries the conversation's id and token; a keyed start names the same conversation on every retry."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from services.gateway.api_widget import _start
from services.gateway.auth.tokens import TokenService
from services.gateway.commands import KEYED, answer_response, new_id_for, request_id_for
from shared.contracts import chat

pytestmark = pytest.mark.unit


class PendingBus:
    def __init__(self) -> None:
        self.sent: list[chat.StartConversation] = []

    async def send(self, topic, command, *, tenant_id, actor):
        self.sent.append(command)
        return answer_response(command.request_id, None)  # no answer within the gateway's wait


async def test_a_pending_start_carries_the_conversations_token():
    tokens = TokenService("x" * 32)
    gw = SimpleNamespace(bus=PendingBus(), tokens=tokens)
    rid = request_id_for("t1", "visitor-3", "start-1")
    command = chat.StartConversation(conversation_id=new_id_for(rid), queue_id="q", request_id=rid,
                                     customer=chat.Customer(customer_id="visitor-3", name="Visitor 3"))
    response = await _start(gw, "t1", command.customer, "visitor-token", command)
    body = json.loads(bytes(response.body))
    assert response.status_code == 504 and body["status"] == "pending"
    assert body["answer_url"] == f"/v1/requests/{rid}" and body["visitor_token"] == "visitor-token"
    claims = tokens.verify_customer(body["conversation_token"])
    assert (claims.conversation_id, claims.customer_id, claims.tenant_id) == (command.conversation_id,
                                                                              "visitor-3", "t1")


def test_a_keyed_request_names_the_same_new_conversation_every_time_and_an_unkeyed_one_a_fresh_one():
    keyed = request_id_for("t1", "visitor-3", "start-1")
    assert keyed.startswith(KEYED) and new_id_for(keyed) == new_id_for(keyed)
    assert new_id_for(keyed) != new_id_for(request_id_for("t1", "visitor-3", "start-2"))
    unkeyed = request_id_for("t1", "visitor-3", None)
    assert new_id_for(unkeyed) != new_id_for(unkeyed)
