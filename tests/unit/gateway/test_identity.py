"""U5 at the gateway: chat's CustomerIdentified renames the customer in the conversation's view (work lists, offers
and invitations read it) and reaches the desks on it, never the customer's widget; the link route's body names
exactly one target."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.gateway.api_identity import Link
from services.gateway.projection import project
from shared.contracts import chat
from tests.unit.gateway.test_projection import T0, env, started

pytestmark = pytest.mark.unit


def test_the_view_and_the_desks_on_it_take_the_contacts_name():
    view = project(started(), None, []).view
    identified = chat.CustomerIdentified(conversation_id="c1", customer_id="v-1", customer_name="Jānis Bērziņš",
                                         contact_id="k1", agents=["a1", "a2"], at=T0)
    out = project(env(identified), view, [])
    assert out.view is not None
    assert (out.view["customer_name"], out.view["contact_id"]) == ("Jānis Bērziņš", "k1")
    assert [(a, f["type"], f["customer_name"]) for a, f in out.to_agents] == [
        ("a1", "customer_identified", "Jānis Bērziņš"), ("a2", "customer_identified", "Jānis Bērziņš")]
    assert out.to_customer == []  # staff's knowledge


def test_the_link_names_exactly_one_target():
    assert Link(contact_id="k1").contact_id == "k1"
    assert Link(create={"full_name": "Dana"}).create.full_name == "Dana"
    for body in ({}, {"contact_id": "k1", "account_id": "a1"}, {"account_id": "a1", "create": {"full_name": "X"}},
                 {"create": {"full_name": "X", "shoe_size": 44}}, {"customer_id": "someone-else", "contact_id": "k1"}):
        with pytest.raises(ValidationError):
            Link.model_validate(body)
