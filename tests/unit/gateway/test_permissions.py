"""The permission table: its properties over every role, action and set of relations, the HTTP answer
to a refusal, and the README showing exactly the table the code uses."""

import re
from itertools import chain, combinations
from pathlib import Path

import pytest

from services.gateway.auth.permissions import (
    ADMIN_ACTIONS,
    FORBIDDEN,
    NOT_FOUND,
    NOT_SIGNED_IN,
    PERMISSIONS,
    RELATION_MEANINGS,
    RULES,
    STAFF_ROLES,
    Action,
    Relation,
    Role,
    Scope,
    allowed,
    refusal,
    render_permission_table,
    render_relation_table,
)

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[3] / "services" / "gateway" / "README.md"
REAL = [r for r in Relation if r is not Relation.NONE]
# Every set of relations an actor can have to one conversation: the empty set (none) and all others.
RELATION_SETS = [frozenset(c) for c in chain.from_iterable(combinations(REAL, n) for n in range(len(REAL) + 1))]
CONVERSATION_ACTIONS = [a for a in Action if RULES[a].scope is Scope.CONVERSATION]
TENANT_ACTIONS = [a for a in Action if RULES[a].scope is Scope.TENANT]
EVERYTHING = [(role, action, rels) for role in Role for action in Action for rels in RELATION_SETS]


def test_the_table_has_one_rule_per_action_and_an_answer_per_role():
    assert [rule.action for rule in PERMISSIONS] == list(Action)
    assert all(set(rule.grants) == set(Role) for rule in PERMISSIONS)
    assert set(RELATION_MEANINGS) == set(Relation)
    assert len(RELATION_SETS) == 2 ** len(REAL)


def test_a_customer_can_never_see_or_write_private_notes():
    for rels in RELATION_SETS:
        assert not allowed(Role.CUSTOMER, Action.READ_PRIVATE_NOTES, rels)
        assert not allowed(Role.CUSTOMER, Action.SEND_PRIVATE_NOTE, rels)


def test_a_customer_acts_only_on_its_own_conversation_and_only_as_a_customer():
    customer_actions = {Action.READ_CONVERSATION, Action.READ_MESSAGES, Action.SEND_MESSAGE, Action.END,
                        Action.MARK_READ, Action.TYPING, Action.READ_HINTS}
    for action in Action:
        for rels in RELATION_SETS:
            assert allowed(Role.CUSTOMER, action, rels) == (Relation.OWN in rels and action in customer_actions)


@pytest.mark.parametrize("role", sorted(STAFF_ROLES))
def test_queue_member_sees_metadata_and_preview_but_not_the_messages(role):
    only = {Relation.QUEUE_MEMBER}
    assert allowed(role, Action.READ_CONVERSATION, only)
    assert allowed(role, Action.READ_PREVIEW, only)
    assert allowed(role, Action.TAKE, only)
    assert not allowed(role, Action.READ_MESSAGES, only)
    assert not allowed(role, Action.READ_PRIVATE_NOTES, only)
    assert not allowed(role, Action.SEND_MESSAGE, only)
    granted = {a for a in Action if allowed(role, a, only)} - set(TENANT_ACTIONS)
    assert granted == {Action.READ_CONVERSATION, Action.READ_PREVIEW, Action.TAKE}


def test_observe_needs_a_supervising_role_and_supervisor_of_queue_or_a_favourite_customer():
    for role, action, rels in EVERYTHING:
        if action is Action.OBSERVE:
            expected = (role in {Role.SUPERVISOR, Role.ADMIN} and Relation.SUPERVISOR_OF_QUEUE in rels
                        or role in STAFF_ROLES and Relation.FAVOURITE_OF in rels)
            assert allowed(role, action, rels) == expected, (role, rels)


def test_admin_actions_are_for_admins_only():
    for role, action, rels in EVERYTHING:
        if action in ADMIN_ACTIONS:
            assert allowed(role, action, rels) == (role is Role.ADMIN), (role, action, rels)


def test_no_relation_allows_no_conversation_action():
    for role in Role:
        for action in CONVERSATION_ACTIONS:
            assert not allowed(role, action, set())
            assert not allowed(role, action, {Relation.NONE})


def test_tenant_actions_do_not_depend_on_relations():
    for role in Role:
        for action in TENANT_ACTIONS:
            assert len({allowed(role, action, rels) for rels in RELATION_SETS}) == 1


def test_only_an_offered_actor_answers_an_offer_and_only_the_assigned_one_wraps_up():
    for role, action, rels in EVERYTHING:
        if action in (Action.ACCEPT_OFFER, Action.DECLINE_OFFER) and allowed(role, action, rels):
            assert Relation.OFFERED in rels
        assigned_only = (Action.WRAP_UP, Action.CLOSE_TO_WAITING, Action.INVITE_CONFERENCE)
        if action in assigned_only and allowed(role, action, rels):
            assert Relation.ASSIGNED in rels and role in STAFF_ROLES


def test_more_relations_never_take_a_permission_away():
    for role in Role:
        for action in Action:
            for rels in RELATION_SETS:
                if allowed(role, action, rels):
                    for extra in REAL:
                        assert allowed(role, action, rels | {extra})


def test_whoever_may_act_on_a_conversation_may_see_it():
    # So a refusal's 404 ("cannot even see it") and 403 ("sees it, may not do this") never contradict.
    for role, action, rels in EVERYTHING:
        if action in CONVERSATION_ACTIONS and allowed(role, action, rels):
            assert allowed(role, Action.READ_CONVERSATION, rels), (role, action, rels)


def test_roles_are_cumulative_for_conversation_work():
    for action in CONVERSATION_ACTIONS:
        for rels in RELATION_SETS:
            if allowed(Role.AGENT, action, rels):
                assert allowed(Role.SUPERVISOR, action, rels) and allowed(Role.ADMIN, action, rels)


def test_none_cannot_be_combined_with_a_relation():
    with pytest.raises(ValueError):
        allowed(Role.AGENT, Action.READ_MESSAGES, {Relation.NONE, Relation.ASSIGNED})


def test_plain_strings_are_accepted():
    assert allowed("agent", "read_messages", ["assigned"])
    with pytest.raises(ValueError):
        allowed("agent", "fly", ["assigned"])


# refusals


def test_not_signed_in_is_401_before_anything_else():
    assert refusal(None, Action.READ_MESSAGES, (), found=False) is NOT_SIGNED_IN
    assert refusal(None, Action.MANAGE_QUEUES) is NOT_SIGNED_IN
    assert NOT_SIGNED_IN.status == 401 and NOT_SIGNED_IN.headers() == {"WWW-Authenticate": "Bearer"}


def test_unknown_or_other_tenants_conversation_is_404_even_for_an_admin():
    assert refusal(Role.ADMIN, Action.READ_MESSAGES, {Relation.SUPERVISOR_OF_QUEUE}, found=False) is NOT_FOUND
    assert refusal(Role.CUSTOMER, Action.SEND_MESSAGE, (), found=False) is NOT_FOUND


def test_a_conversation_the_actor_cannot_see_is_404_not_403():
    assert refusal(Role.AGENT, Action.READ_MESSAGES, set()) is NOT_FOUND
    assert refusal(Role.CUSTOMER, Action.READ_MESSAGES, set()) is NOT_FOUND  # another customer's chat
    assert refusal(Role.AGENT, Action.OBSERVE, {Relation.SUPERVISOR_OF_QUEUE}) is NOT_FOUND


def test_a_visible_conversation_the_actor_may_not_act_on_is_403():
    assert refusal(Role.AGENT, Action.READ_MESSAGES, {Relation.QUEUE_MEMBER}) is FORBIDDEN
    assert refusal(Role.CUSTOMER, Action.READ_PRIVATE_NOTES, {Relation.OWN}) is FORBIDDEN
    assert refusal(Role.AGENT, Action.WRAP_UP, {Relation.CONFERENCE_MEMBER}) is FORBIDDEN
    assert refusal(Role.AGENT, Action.MANAGE_AGENTS) is FORBIDDEN
    assert refusal(Role.SUPERVISOR, Action.MANAGE_IDENTITY_SECRET, found=False) is FORBIDDEN  # tenant scope


def test_allowed_is_no_refusal():
    for role, action, rels in EVERYTHING:
        if allowed(role, action, rels):
            assert refusal(role, action, rels) is None


def test_refusal_bodies_are_fixed_texts():
    assert NOT_SIGNED_IN.body() == {"error": "not_signed_in", "detail": "Sign in to continue."}
    assert NOT_FOUND.body() == {"error": "not_found", "detail": "Not found."}
    assert FORBIDDEN.body() == {"error": "forbidden", "detail": "You are not allowed to do this."}
    answers = {refusal(role, action, rels, found=found) for role, action, rels in EVERYTHING for found in (True, False)}
    assert answers == {None, NOT_FOUND, FORBIDDEN}


# README


def generated_block(name: str) -> str:
    text = README.read_text()
    match = re.search(rf"<!-- generated: {name} .*?-->\n(.*?)<!-- end generated: {name} -->", text, re.DOTALL)
    assert match, f"{README} lacks the markers of the generated {name}"
    return match.group(1)


def test_readme_shows_exactly_the_permission_table_the_code_uses():
    assert generated_block("permission table") == render_permission_table(), (
        "services/gateway/README.md is out of date: paste the output of "
        "`.venv/bin/python -m services.gateway.auth.permissions`")


def test_readme_shows_exactly_the_relation_meanings_the_code_uses():
    assert generated_block("relation table") == render_relation_table()


def test_rendered_table_has_a_row_per_action_and_a_column_per_role():
    lines = render_permission_table().splitlines()
    assert lines[0] == "| action | scope | what | admin | supervisor | agent | customer |"
    assert len(lines) == 2 + len(Action)
    row = next(line for line in lines if line.startswith("| `observe` "))
    assert row.endswith("| `supervisor_of_queue`, `favourite_of` | `supervisor_of_queue`, `favourite_of` "
                        "| `favourite_of` | no |")
