"""The authorisation matrix (issue 16): every gateway operation about one conversation, every admin operation and
the tenant-wide reads, for each of twelve actors, with each cell's expected answer written down below and checked
through the running gateway; nothing of another tenant (or of a conversation one may not read) in any body; and,
over the sockets, no frame of a conversation one may not see.

The tables are written by hand from the permission table (services/gateway/auth/permissions.py, printed in
services/gateway/README.md), not computed from it: a change of the rules must change this file too. Who plays
each column is authz_world.PLAYERS. `test_every_gateway_route_is_classified` fails when the gateway gains a route
that no table and no exclusion names.

A cell is one of:
  200, 201, 204     the operation was carried out (a read answered, a command accepted by its owner)
  401, 403, 404     the gateway refused: not_signed_in, forbidden, not_found (an unreadable conversation is 404)
  403ro             the gateway refused with read_only (an observer writing to the customer)
  409o, 404o, ...   the gateway let it through and the owning service refused it with that status: the
                    authorisation passed, the state or the body did not (e.g. a bogus offer id); used where
                    carrying the command out would destroy the state the other cells need
  -                 not sent (says why beside the table)
A cell ending in @X2 is sent to X2 (X's twin) in the order of X2_SEQUENCE, @last to X after every other cell: they
change relations or end the conversation. The other cells of those rows are refusals and go to X with the rest.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.gateway.app import Gateway, create_app
from services.gateway.settings import GatewaySettings
from shared.testing.system import Stream
from shared.testing.tenants import PASSWORD
from tests.e2e.authz_world import ACTORS, Outcome, World, build, call, tag

pytestmark = pytest.mark.e2e

# --- conversation X: assigned to alice, carol in its conference, bob invited, erin following its customer -------
# columns: anonymous, customer (X's), other_customer (Y's), assigned (alice), offered (bob), member (carol),
# queue_member (dave), favourite (erin), supervisor (sam), other_supervisor (vera), admin, other_admin (tenant B).
# {C} is /v1/conversations/{conversation_id}, {W} /v1/widget/conversations/..., {A} /v1/agent/conversations/...,
# {S} /v1/supervisor/conversations/... (SHORTHANDS).
X_TABLE = """
operation                                  anon cust   ocust alice    bob    carol  dave erin  sam   vera admin admB
GET {C}                                    401  401    401   200      200    200    404  200   200   404  404   404
GET {C}/messages                           401  401    401   200      403    200    404  200   200   404  404   404
POST {C}/messages                          401  401    401   200      403    200    404  403ro 403ro 404  404   404
POST {C}/messages (private note)           401  401    401   200      403    200    404  403ro 403ro 404  404   404
POST {C}/read                              401  401    401   200      403    200    404  403   403   404  404   404
POST {C}/typing                            401  401    401   204      403    204    404  403   403   404  404   404
POST {C}/accept                            401  401    401   403      409o   403    404  403   403   404  404   404
POST {C}/decline                           401  401    401   403      409o   403    404  403   403   404  404   404
POST {C}/take                              401  401    401   403      403    403    404  403   403   404  404   404
POST {C}/transfer                          401  401    401   404o     403    403    404  403   403   404  404   404
POST {C}/conference/invite                 401  401    401   200      403    403    404  403   403   404  404   404
POST {C}/conference/accept                 401  401    401   403      200@X2 403    404  403   403   404  404   404
POST {C}/conference/decline                401  401    401   403      200@X2 403    404  403   403   404  404   404
POST {C}/conference/leave                  401  401    401   403      403    200@X2 404  403   403   404  404   404
POST {C}/group/leave                       401  401    401   403      403    409o   404  403   403   404  404   404
POST {C}/close-to-waiting                  401  401    401   403o     403    403    404  403   403   404  404   404
POST {C}/end                               401  401    401   200@last 403    403    404  403   403   404  404   404
POST {C}/wrap-up                           401  401    401   200@X2   403    403    404  403   403   404  404   404
POST {C}/link                              401  401    401   200      403    200    404  403   200   404  404   404
GET {C}/case                               401  401    401   200      200    200    404  200   200   404  404   404
GET {C}/service-requests                   401  401    401   200      200    200    404  200   200   404  404   404
POST {C}/service-requests                  401  401    401   200      403    200    404  403   200   404  404   404
PATCH {C}/skills                           401  401    401   200      403    403    404  403   403   404  404   404
GET {C}/transcript                         401  401    401   200      403    200    404  200   200   404  404   404
GET {C}/view                               401  401    401   200      403    200    404  200   200   404  404   404
POST {C}/messages/{seq}/draft-article      401  401    401   200      403    200    404  403   200   404  404   404
POST {C}/attachments                       401  401    401   201      403    201    404  403   403   404  404   404
GET {C}/attachments/{attachment_id}        401  401    401   200      403    200    404  200   200   404  404   404
GET {A}/messages                           401  401    401   200      403    200    404  200   200   404  404   404
GET {A}/quick-replies                      401  401    401   200      403    200    404  403   403   404  404   404
POST {S}/observe                           401  401    401   403      403    403    404  403   200   404  404   404
DELETE {S}/observe                         401  401    401   403      403    403    404  200   200   404  404   404
POST /v1/cases/{case_id}/conversations     401  401    401   200      403    200    404  403   200   404  404   404
POST /v1/cases (from the conversation)     401  401    401   200      403    200    404  403   200   404  404   404
GET /v1/agent/search (in the conversation) 401  401    401   200      403    200    404  200   200   404  404   404
GET {W}/messages                           401  200    404   401      401    401    401  401   401   401  401   401
POST {W}/messages                          401  200    404   401      401    401    401  401   401   401  401   401
POST {W}/messages (private note)           401  403    404   401      401    401    401  401   401   401  401   401
POST {W}/read                              401  200    404   401      401    401    401  401   401   401  401   401
POST {W}/typing                            401  204    404   401      401    401    401  401   401   401  401   401
GET {W}/position                           401  200    404   401      401    401    401  401   401   401  401   401
GET {W}/survey                             401  200    404   401      401    401    401  401   401   401  401   401
POST {W}/survey                            401  200@X2 404   401      401    401    401  401   401   401  401   401
GET {W}/transcript                         401  200    404   401      401    401    401  401   401   401  401   401
GET {W}/hints                              401  200    404   401      401    401    401  401   401   401  401   401
GET {W}/articles/{article_id}              401  200    404   401      401    401    401  401   401   401  401   401
POST {W}/attachments                       401  201    404   401      401    401    401  401   401   401  401   401
GET {W}/attachments/{attachment_id}        401  200    404   401      401    401    401  401   401   401  401   401
POST {W}/end                               401  200@X2 404   401      401    401    401  401   401   401  401   401
"""
# Why the less obvious cells are what they are:
# - admin: the tenant's admin supervises no queue, and admin is no relation (permissions.py: roles are cumulative
#   only with a relation), so X is as unknown to it as to vera or dave: 404. The admin of a queue is `sam`'s column.
# - dave: a queue member relates to a conversation only while it waits in the queue (the Open list); X is taken.
# - bob (offered: invited to the conference) sees X's metadata and preview but not its messages (403).
# - bob's /accept and /decline are routing offers, not the invitation: the gateway lets him through (he is
#   offered), routing refuses the bogus offer id (409o). Accepting or declining the invitation is checked on X2.
# - transfer goes to a queue that does not exist, so that X stays as it is: alice passes the gateway and routing
#   refuses the queue (404o). close-to-waiting: alice passes; support keeps no persistent chats (403o
#   not_allowed). group/leave: carol passes (a conference member); X is no group (409o invalid_state).
# - sam (supervisor_of_queue) may not write a private note, transfer or change skills without working X: the
#   permission table once granted these to supervisors of the queue while chat and routing refused them (found
#   by this matrix); the table now says what the owners do, so the gateway refuses at once (403, read_only for
#   the note). A supervisor or admin who works a conversation does all of it, as an agent (roles cumulative).
# - the observers (erin, sam) writing to the customer get read_only; erin, who may observe by the rules but is no
#   supervisor, is refused the supervisor's observe route (403) and may stop observing (200).
# - draft-article drafts from a reply that is no secret: a draft is readable by all staff (read_articles), by design.
# - staff tokens on the widget's routes, customer tokens on staff routes: 401 (one kind of token is no other).

# --- conversation W: waiting in billing, offered to olga (the `offered` column); dave is a member of billing ----
# alice, carol and erin have no relation to W; the `customer` column is W's customer, `other_customer` X's.
W_TABLE = """
operation         anon cust ocust alice olga carol dave erin sam   vera admin admB
GET {C}           401  401  401   404   200  404   200  404  200   404  404   404
GET {C}/messages  401  401  401   404   403  404   403  404  200   404  404   404
POST {C}/messages 401  401  401   404   403  404   403  404  403ro 404  404   404
GET {C}/view      401  401  401   404   403  404   403  404  200   404  404   404
POST {C}/decline  401  401  401   404   409o 404   403  404  403   404  404   404
POST {C}/take     401  401  401   404   -    404   409o 404  403   404  404   404
POST {C}/transfer 401  401  401   404   403  404   403  404  403   404  404   404
GET {W}/messages  401  200  404   401   401  401   401  401  401   401  401   401
GET {W}/position  401  200  404   401   401  401   401  401  401   401  401   401
POST {C}/accept   401  401  401   404   200  404   403  404  403   404  404   404
"""
# - olga's decline carries a bogus offer id (409o) so that her real accept, last, takes W (200). Her take is not
#   sent: taking one's own offer is accepting it. dave may take (queue member) but W is being offered: 409o.

# --- the tenant-wide reads and the admin's operations (the `other_admin` acts on tenant B: its own) -------------
TENANT_TABLE = """
operation                                 anon cust ocust alice bob carol dave erin sam vera admin admB
GET /v1/agent/work                        401  401  401   200   200 200   200  200  200 200  200   200
GET /v1/agent/search                      401  401  401   200   200 200   200  200  200 200  200   200
GET /v1/agent/sessions                    401  401  401   200   200 200   200  200  200 200  200   200
GET /v1/agent/quick-replies               401  401  401   200   200 200   200  200  200 200  200   200
GET /v1/customers/search                  401  401  401   200   200 200   200  200  200 200  200   200
GET /v1/cases                             401  401  401   200   200 200   200  200  200 200  200   200
GET /v1/articles                          401  401  401   200   200 200   200  200  200 200  200   200
GET /v1/supervisor/board                  401  401  401   403   403 403   403  403  200 200  200   200
GET /v1/lines/{line_id}/users             401  401  401   200   404 404   200  404  200 200  200   200
GET /v1/admin/attachments                 401  401  401   403   403 403   403  403  403 403  200   200
PUT /v1/admin/attachments                 401  401  401   403   403 403   403  403  403 403  200   200
GET /v1/admin/identity-secret             401  401  401   403   403 403   403  403  403 403  200   200
POST /v1/admin/identity-secret            401  401  401   403   403 403   403  403  403 403  200   200
DELETE /v1/admin/identity-secret/previous 401  401  401   403   403 403   403  403  403 403  200   200
GET /v1/admin/masking                     401  401  401   403   403 403   403  403  403 403  200   200
PUT /v1/admin/masking                     401  401  401   403   403 403   403  403  403 403  200   200
PUT /v1/admin/queues/{queue_id}           401  401  401   403   403 403   403  403  403 403  200   200
PATCH /v1/admin/queues/{queue_id}/members 401  401  401   403   403 403   403  403  403 403  200   200
GET /v1/admin/quick-replies               401  401  401   403   403 403   403  403  403 403  200   200
PUT /v1/admin/quick-replies/{name}        401  401  401   403   403 403   403  403  403 403  200   200
DELETE /v1/admin/quick-replies/{name}     401  401  401   403   403 403   403  403  403 403  200   200
PUT /v1/admin/sentiment                   401  401  401   403   403 403   403  403  403 403  200   200
POST /v1/admin/staff                      401  401  401   403   403 403   403  403  403 403  200   200
PATCH /v1/admin/staff/{user_id}           401  401  401   403   403 403   403  403  403 403  200   200
PUT /v1/admin/agents                      401  401  401   403   403 403   403  403  403 403  200   200
POST /v1/admin/staff/{user_id}/deactivate 401  401  401   403   403 403   403  403  403 403  200   200
GET /v1/admin/survey                      401  401  401   403   403 403   403  403  403 403  200   200
PUT /v1/admin/survey                      401  401  401   403   403 403   403  403  403 403  200   200
PUT /v1/admin/wrap-up-reasons             401  401  401   403   403 403   403  403  403 403  200   200
"""

# The allowed cells that change relations or end a conversation, in the order they are sent to X2 (a step between
# them re-invites bob, so that he can accept after declining).
X2_SEQUENCE = (
    ("POST /v1/conversations/{conversation_id}/conference/leave", "member"),
    ("POST /v1/conversations/{conversation_id}/conference/decline", "offered"),
    "alice invites bob again",
    ("POST /v1/conversations/{conversation_id}/conference/accept", "offered"),
    ("POST /v1/widget/conversations/{conversation_id}/end", "customer"),
    ("POST /v1/widget/conversations/{conversation_id}/survey", "customer"),
    ("POST /v1/conversations/{conversation_id}/wrap-up", "assigned"),
)

# Every other route of the gateway, and why the matrix leaves it out.
TENANT_SCOPE = "tenant scope, no conversation: the role alone decides (tests/unit/gateway/test_permissions.py)"
RECORD_SCOPE = "a record of the tenant (contact, account, case, article, line, session), not a conversation"
NOT_IN_MATRIX = {
    "POST /v1/auth/sign-in": "public: signing in",
    "POST /v1/auth/refresh": "the refresh token is the credential (test_access.py)",
    "POST /v1/auth/sign-out": "one's own session (test_access.py)",
    "POST /v1/auth/password": "one's own password (test_access.py)",
    "POST /v1/widget/{tenant_id}/conversations": "public: a visitor starts a chat",
    "POST /v1/widget/{tenant_id}/offline-messages": "public: a visitor leaves a message",
    "POST /v1/widget/{tenant_id}/messages": "public: a visitor's appeal (its own conversation only)",
    "POST /v1/widget/{tenant_id}/attachments": "public: a visitor's appeal with a file",
    "GET /v1/widget/{tenant_id}/queues/{queue_id}/status": "public: a queue's status for the widget",
    "GET /v1/requests/{request_id}": "a command's answer, looked up in the caller's tenant (random ids)",
    "PUT /v1/agent/presence": TENANT_SCOPE,
    "PUT /v1/agent/relevance-window": TENANT_SCOPE,
    "PUT /v1/agent/users/{customer_id}": TENANT_SCOPE,
    "PUT /v1/agent/quick-replies/{name}": TENANT_SCOPE,
    "DELETE /v1/agent/quick-replies/{name}": TENANT_SCOPE,
    "POST /v1/conversations/proactive": TENANT_SCOPE + "; starts a conversation of one's own",
    "POST /v1/conversations/group": TENANT_SCOPE + "; starts a conversation of one's own",
    "POST /v1/agent/sessions": RECORD_SCOPE,
    "GET /v1/agent/sessions/{session_id}": RECORD_SCOPE + " (one's own panel)",
    "POST /v1/agent/sessions/{session_id}/focus": RECORD_SCOPE + " (one's own panel)",
    "PUT /v1/agent/sessions/{session_id}/draft": RECORD_SCOPE + " (one's own panel)",
    "POST /v1/agent/sessions/{session_id}/close": RECORD_SCOPE + " (one's own panel)",
    "POST /v1/accounts": RECORD_SCOPE,
    "GET /v1/accounts/{account_id}": RECORD_SCOPE,
    "PATCH /v1/accounts/{account_id}": RECORD_SCOPE,
    "GET /v1/accounts/{account_id}/cases": RECORD_SCOPE,
    "POST /v1/accounts/{record_id}/notes": RECORD_SCOPE,
    "GET /v1/accounts/{record_id}/timeline": RECORD_SCOPE,
    "POST /v1/contacts": RECORD_SCOPE,
    "GET /v1/contacts/{contact_id}": RECORD_SCOPE,
    "PATCH /v1/contacts/{contact_id}": RECORD_SCOPE,
    "DELETE /v1/contacts/{contact_id}": RECORD_SCOPE + " (erasure: test_privacy.py)",
    "GET /v1/contacts/{contact_id}/cases": RECORD_SCOPE,
    "GET /v1/contacts/{contact_id}/export": RECORD_SCOPE + " (export: test_privacy.py)",
    "POST /v1/contacts/{record_id}/notes": RECORD_SCOPE,
    "GET /v1/contacts/{record_id}/timeline": RECORD_SCOPE,
    "GET /v1/cases/{case_id}": RECORD_SCOPE,
    "PATCH /v1/cases/{case_id}": RECORD_SCOPE,
    "POST /v1/cases/{record_id}/notes": RECORD_SCOPE,
    "GET /v1/cases/{record_id}/timeline": RECORD_SCOPE,
    "GET /v1/service-requests/{service_request_id}": RECORD_SCOPE,
    "PATCH /v1/service-requests/{service_request_id}": RECORD_SCOPE,
    "POST /v1/articles": RECORD_SCOPE,
    "GET /v1/articles/{article_id}": RECORD_SCOPE,
    "PUT /v1/articles/{article_id}": RECORD_SCOPE,
    "POST /v1/lines/{line_id}/users": RECORD_SCOPE,
}

# Shorthands in the tables' operations, for the conversation's id in the path
SHORTHANDS = {"{C}": "/v1/conversations/{conversation_id}", "{W}": "/v1/widget/conversations/{conversation_id}",
              "{A}": "/v1/agent/conversations/{conversation_id}",
              "{S}": "/v1/supervisor/conversations/{conversation_id}"}
CELL = re.compile(r"^(?P<status>\d{3})(?P<kind>ro|o)?(?:@(?P<where>X2|last))?$|^-$")
REFUSAL_CODES = {401: "not_signed_in", 403: "forbidden", 404: "not_found"}


@dataclass(frozen=True)
class Expected:
    status: int | None  # None: not sent
    kind: str  # "" (the gateway's answer), "ro" (read_only), "o" (the owner's rejection)
    where: str  # "" (in turn), "X2", "last"

    def __str__(self) -> str:
        return f"{self.status}{self.kind}" + (f"@{self.where}" if self.where else "")


def parse(table: str) -> dict[str, dict[str, Expected]]:
    """Row label -> actor -> expected cell; a row is its label then one cell per actor, in ACTORS' order."""
    rows: dict[str, dict[str, Expected]] = {}
    for line in table.strip().splitlines()[1:]:
        words = line.split()
        label, cells = " ".join(words[:-len(ACTORS)]), words[-len(ACTORS):]
        for short, path in SHORTHANDS.items():
            label = label.replace(short, path)
        assert label not in rows, f"row {label} twice"
        expected = {}
        for actor, cell in zip(ACTORS, cells, strict=True):
            match = CELL.match(cell)
            assert match, f"{label}: cell {cell!r} of {actor} is not a cell"
            expected[actor] = Expected(int(match["status"]), match["kind"] or "", match["where"] or "") \
                if cell != "-" else Expected(None, "", "")
        rows[label] = expected
    return rows


def route_of(label: str) -> str:
    """The route a row checks: its label without the parenthesised variant."""
    return label.split(" (")[0]


# --- the route table ---------------------------------------------------------------------------------------------

def gateway_routes() -> set[str]:
    """Every HTTP operation of the gateway, from the OpenAPI document its app factory builds (and serves at
    /openapi.json); the two WebSocket streams are the socket part below."""
    app = create_app(Gateway(GatewaySettings(), *[None] * 9))  # type: ignore[arg-type]
    return {f"{method.upper()} {path}" for path, operations in app.openapi()["paths"].items()
            for method in operations}


def test_every_gateway_route_is_classified():
    """A new route fails this until a table or NOT_IN_MATRIX names it: the matrix cannot go stale silently."""
    in_tables = {route_of(label) for table in (X_TABLE, W_TABLE, TENANT_TABLE) for label in parse(table)}
    routes = gateway_routes()
    assert not (in_tables & set(NOT_IN_MATRIX)), "a route both in the matrix and left out"
    unclassified = routes - in_tables - set(NOT_IN_MATRIX)
    assert not unclassified, f"routes the matrix does not classify: {sorted(unclassified)}"
    gone = (in_tables | set(NOT_IN_MATRIX)) - routes
    assert not gone, f"the matrix names routes the gateway no longer has: {sorted(gone)}"
    conversation_routes = {r for r in routes if "{conversation_id}" in r}
    assert conversation_routes <= in_tables, "every route about one conversation is in the matrix"
    admin_routes = {r for r in routes if r.split()[1].startswith("/v1/admin/")}
    assert admin_routes <= in_tables, "every admin route is in the matrix"
    labels = {label for table in (X_TABLE, W_TABLE, TENANT_TABLE) for label in parse(table)}
    assert set(BODIES) | set(PARAMS) | LINE_ROWS <= labels, "a body or parameters for a row no table has"
    for table in (X_TABLE, W_TABLE, TENANT_TABLE):
        for label, cells in parse(table).items():
            deferred = {a for a, c in cells.items() if c.where == "X2"}
            assert all((label, a) in X2_SEQUENCE for a in deferred), f"{label}: an @X2 cell X2_SEQUENCE lacks"


# The users of a support line (U3) are the line's members' to see, names included; a row's preview (the last
# message of the user's conversation) is its conversation's: line_rows.py. Those bodies and frames may name X's
# customer, never show X's messages to those who may not read them.
LINE_ROWS = {"GET /v1/lines/{line_id}/users"}

# --- the requests ------------------------------------------------------------------------------------------------

@dataclass
class Request:
    method: str
    path: str
    body: Any = None
    params: dict[str, Any] | None = None
    content: bytes | None = None


def _fill(world: World, path: str, cid: str) -> str:
    widget = path.startswith("/v1/widget/")
    return path.format(conversation_id=cid, seq=world.ids["shareable_seq"], case_id=world.ids["case"],
                       article_id=world.ids["article"], queue_id="spare", name="matrix", line_id="support",
                       user_id="spare-user", attachment_id=world.ids["customer_file" if widget else "staff_file"])


def _word(text: str) -> str:
    return text.split("-")[-1]


BODIES: dict[str, Callable[[World, str, str], Any]] = {
    "POST /v1/conversations/{conversation_id}/messages": lambda w, cid, a: {"client_message_id": tag("m"),
                                                                              "text": f"matrix from {a}"},
    "POST /v1/conversations/{conversation_id}/messages (private note)": lambda w, cid, a: {
        "client_message_id": tag("n"), "text": f"matrix note from {a}", "private": True},
    "POST /v1/conversations/{conversation_id}/read": lambda w, cid, a: {"up_to_seq": 1},
    "POST /v1/conversations/{conversation_id}/accept": lambda w, cid, a: {
        "offer_id": w.ids["w_offer"] if cid == w.w.id else "no-such-offer"},
    "POST /v1/conversations/{conversation_id}/decline": lambda w, cid, a: {"offer_id": "no-such-offer"},
    "POST /v1/conversations/{conversation_id}/transfer": lambda w, cid, a: {"to_queue_id": "no-such-queue"},
    "POST /v1/conversations/{conversation_id}/conference/invite": lambda w, cid, a: {"agent_id": "frank"},
    "POST /v1/conversations/{conversation_id}/wrap-up": lambda w, cid, a: {"reason_code": "resolved"},
    "POST /v1/conversations/{conversation_id}/link": lambda w, cid, a: {"contact_id": w.ids["contact"]},
    "POST /v1/conversations/{conversation_id}/service-requests": lambda w, cid, a: {"title": f"matrix by {a}"},
    "PATCH /v1/conversations/{conversation_id}/skills": lambda w, cid, a: {"add": {"english": 1}},
    "POST /v1/conversations/{conversation_id}/messages/{seq}/draft-article": lambda w, cid, a: {},
    "POST /v1/cases/{case_id}/conversations": lambda w, cid, a: {"conversation_id": cid},
    "POST /v1/cases (from the conversation)": lambda w, cid, a: {"title": f"matrix by {a}", "conversation_id": cid},
    "POST /v1/widget/conversations/{conversation_id}/messages": lambda w, cid, a: {"client_message_id": tag("c"),
                                                                                     "text": f"matrix from {a}"},
    "POST /v1/widget/conversations/{conversation_id}/messages (private note)": lambda w, cid, a: {
        "client_message_id": tag("c"), "text": "a customer's note", "private": True},
    "POST /v1/widget/conversations/{conversation_id}/read": lambda w, cid, a: {"up_to_seq": 1},
    "POST /v1/widget/conversations/{conversation_id}/survey": lambda w, cid, a: {"rating": 5},
    "PUT /v1/admin/attachments": lambda w, cid, a: {"max_bytes": 10_485_760, "allowed_types": ["text/plain"]},
    "POST /v1/admin/identity-secret": lambda w, cid, a: {},
    "PUT /v1/admin/masking": lambda w, cid, a: {"originals_roles": ["agent", "supervisor", "admin"]},
    "PUT /v1/admin/queues/{queue_id}": lambda w, cid, a: {"name": "spare", "members": {}},
    "PATCH /v1/admin/queues/{queue_id}/members": lambda w, cid, a: {"add": {"spare-user": 1}},
    "PUT /v1/admin/quick-replies/{name}": lambda w, cid, a: {"text": "Hello {customer_name}"},
    "PUT /v1/admin/sentiment": lambda w, cid, a: {"threshold": "slightly_negative"},
    "POST /v1/admin/staff": lambda w, cid, a: {"user_id": "spare-user", "password": PASSWORD},
    "PATCH /v1/admin/staff/{user_id}": lambda w, cid, a: {"capacity": {"chat": 1}},
    "PUT /v1/admin/agents": lambda w, cid, a: {"agents": {"spare-user": {"capacity": {"chat": 1}}}},
    "PUT /v1/admin/survey": lambda w, cid, a: {"enabled": True},
    "PUT /v1/admin/wrap-up-reasons": lambda w, cid, a: {"reasons": [{"code": "resolved", "label": "Resolved"}]},
}
PARAMS: dict[str, Callable[[World, str], dict[str, Any]]] = {
    "GET /v1/agent/search (in the conversation)": lambda w, cid: {"q": _word(w.replies_x[0]), "conversation_id": cid},
    "GET /v1/agent/search": lambda w, cid: {"q": _word(w.replies_x[0])},  # X's reply: only X's readers find it
    "GET /v1/customers/search": lambda w, cid: {"q": "Xena"},
    "GET /v1/cases": lambda w, cid: {"q": "matrix"},
    "GET /v1/widget/conversations/{conversation_id}/hints": lambda w, cid: {"q": "reset password"},
    "POST /v1/conversations/{conversation_id}/attachments": lambda w, cid: {"name": "matrix.txt"},
    "POST /v1/widget/conversations/{conversation_id}/attachments": lambda w, cid: {"name": "matrix.txt"},
}
UPLOADS = {"POST /v1/conversations/{conversation_id}/attachments", "POST /v1/widget/conversations/{conversation_id}"
                                                                     "/attachments"}


def request_for(world: World, label: str, cid: str, actor: str) -> Request:
    method, path = route_of(label).split(" ", 1)
    body = BODIES[label](world, cid, actor) if label in BODIES else None
    if method in ("POST", "PUT", "PATCH") and body is None and label not in UPLOADS:
        body = {}
    params = PARAMS[label](world, cid) if label in PARAMS else None
    content = f"a file from {actor}".encode() if label in UPLOADS else None
    return Request(method, _fill(world, path, cid), body, params, content)


@dataclass
class Cell:
    table: str
    label: str
    actor: str
    expected: Expected
    got: Outcome

    def wrong(self) -> str | None:
        e, g = self.expected, self.got
        if g.status != e.status:
            return f"{g.status} ({g.by} {g.code})"
        if e.kind == "o" and g.by != "owner":
            return f"{g.status} from the gateway ({g.code}), not the owner's answer"
        if e.kind == "ro" and g.code != "read_only":
            return f"{g.status} {g.code}, not read_only"
        if e.kind == "" and e.status in REFUSAL_CODES and (g.by, g.code) != ("gateway", REFUSAL_CODES[e.status]):
            return f"{g.status} {g.by} {g.code}, not the gateway's {REFUSAL_CODES[e.status]}"
        return None


async def send_cell(http: httpx.AsyncClient, world: World, table: str, label: str, cid: str, actor: str,
                    expected: Expected) -> Cell:
    request = request_for(world, label, cid, actor)
    token = world.tokens[table][actor]
    path = request.path + ("?" + str(httpx.QueryParams(request.params)) if request.params else "")
    got = await call(http, token, request.method, path, request.body, key=uuid.uuid4().hex,
                     content=request.content, content_type="text/plain")
    return Cell(table, label, actor, expected, got)


async def run_table(http: httpx.AsyncClient, world: World, name: str, table: str, cid: str,
                    where: str = "") -> list[Cell]:
    """Every cell of the table whose place is `where`, row by row (a row's actors at once)."""
    cells: list[Cell] = []
    for label, row in parse(table).items():
        due = [(actor, e) for actor, e in row.items() if e.status is not None and e.where == where]
        cells += await asyncio.gather(*(send_cell(http, world, name, label, cid, actor, e) for actor, e in due))
    return cells


async def run_x2_sequence(http: httpx.AsyncClient, world: World) -> list[Cell]:
    rows = parse(X_TABLE)
    cells = []
    for item in X2_SEQUENCE:
        if isinstance(item, str):  # the step between: bob is invited again
            seen = world.desks["bob"].last_position
            answer = await world.staff["alice"].post(f"/v1/conversations/{world.x2.id}/conference/invite",
                                                     {"agent_id": "bob"})
            assert answer.status_code == 200, answer.text
            await world.desks["bob"].wait_for(lambda f: f["type"] == "conference_invite" and f["position"] > seen
                                              and f["conversation_id"] == world.x2.id, what="bob invited again")
            continue
        label, actor = item
        cells.append(await send_cell(http, world, "X2", label, world.x2.id, actor, rows[label][actor]))
    return cells


# --- the sockets --------------------------------------------------------------------------------------------------

@dataclass
class Sockets:
    """Every person's stream (tenant A's staff and tenant B's admin: the desks opened when the world was built;
    X's and Y's customers: opened here from position 0) and where each desk stood when the checks began."""
    streams: dict[str, Stream]
    since: dict[str, int]

    def frames(self, person: str) -> list[dict[str, Any]]:
        return [f for f in self.streams[person].frames if f.get("position", 0) > self.since[person]]


async def open_sockets(world: World) -> Sockets:
    streams = {name: desk for name, desk in world.desks.items() if name != "frank"}  # frank: invited to X below
    since = {name: desk.last_position for name, desk in streams.items()}
    for person, conversation in (("x_customer", world.x), ("y_customer", world.y)):
        streams[person] = await world.a.customer_stream({"conversation_token": conversation.token}, after=0)
        since[person] = -1
    return Sockets(streams, since)


async def barrier(world: World, sockets: Sockets) -> None:
    """After it, every frame queued before it has reached its stream: each stream gets one more frame of its own,
    queued after (a staff member's sessions frame, the other customer's own message), and a stream is delivered in
    order. Customer X's stream needs none: only what may reach it is checked there, and it is waited for."""
    async def staff(person: str) -> None:
        api, desk = world.staff[person], sockets.streams[person]
        seen = desk.last_position
        for draft in (tag("barrier"), None):
            answer = await api.put("/v1/agent/sessions/home/draft", {"draft": draft})
            assert answer.status_code == 200, answer.text
        await desk.wait_for(lambda f: f["type"] == "sessions" and f["position"] > seen, what=f"{person}'s barrier")

    async def other_customer() -> None:
        text = tag("y-barrier")
        sent = await world.y.api.post(f"/v1/widget/conversations/{world.y.id}/messages",
                                      {"client_message_id": tag("y"), "text": text})
        assert sent.status_code == 200, sent.text
        await sockets.streams["y_customer"].wait_for(lambda f: f.get("text") == text, what="Y's barrier")

    await asyncio.gather(*(staff(p) for p in sockets.streams if p in world.staff), other_customer())


# Who must hear of X's messages and notes on their stream, who of its messages only; everyone else nothing of them
HEARS_NOTES = ("alice", "carol", "sam")  # sam observes X (set up by build)
HEARS_MESSAGES = ("x_customer", "erin")  # erin: as favourite-marked copies
NEVER_HEARS_OF_X = ("dave", "vera", "admin", "olga", "admin_b", "y_customer")


async def drive_x(world: World, sockets: Sockets) -> None:
    """Customer X and alice write, alice leaves a private note; each reaches exactly whom it may."""
    asked, reply, note = tag("drive-asked"), tag("drive-reply"), tag("drive-note")
    world.secrets_x += [asked, reply, note]
    world.replies_x.append(reply)
    world.notes_x.append(note)
    answers = [await world.x.api.post(f"/v1/widget/conversations/{world.x.id}/messages",
                                      {"client_message_id": tag("c"), "text": asked}),
               await world.staff["alice"].post(f"/v1/conversations/{world.x.id}/messages",
                                               {"client_message_id": tag("r"), "text": reply}),
               await world.staff["alice"].post(f"/v1/conversations/{world.x.id}/messages",
                                               {"client_message_id": tag("n"), "text": note, "private": True})]
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    for person in HEARS_NOTES:
        for text in (asked, reply, note):
            await sockets.streams[person].wait_for(lambda f, t=text: f.get("text") == t, what=f"{text} to {person}")
    for person in HEARS_MESSAGES:
        for text in (asked, reply):
            await sockets.streams[person].wait_for(lambda f, t=text: f.get("text") == t, what=f"{text} to {person}")
    await barrier(world, sockets)


def socket_leaks(world: World, sockets: Sockets) -> list[str]:
    """Frames someone got that they may not see: anything about X for those with no relation to it, X's private
    notes for its customer and favourite, the agents' replies for the invited bob, the other tenant's data."""
    found = []
    for person in sockets.streams:
        for frame in sockets.frames(person):
            text, line_row = dumps(frame), frame.get("type") == "line_user"
            if person in NEVER_HEARS_OF_X and world.x.id in text:
                found.append(f"{person} got a frame of X: {text[:300]}")
            found += [f"{person} got {secret!r}: {text[:300]}" for secret in leaked(world, person, text,
                                                                                  names_ok=line_row)]
    return found


# --- the test ----------------------------------------------------------------------------------------------------

async def test_the_authorisation_matrix(tenant, system):
    world = await build(system, tenant)
    sockets = await open_sockets(world)
    await drive_x(world, sockets)
    leaks = socket_leaks(world, sockets)
    assert not leaks, "frames with what their reader may not see:\n" + "\n".join(leaks)

    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as http:
        cells = await run_table(http, world, "X", X_TABLE, world.x.id)
        cells += await run_table(http, world, "W", W_TABLE, world.w.id)
        cells += await run_table(http, world, "X", TENANT_TABLE, world.x.id)
        cells += await run_x2_sequence(http, world)
        cells += await run_table(http, world, "X", X_TABLE, world.x.id, where="last")
    wrong = [f"{c.table} {c.label} as {c.actor}: expected {c.expected}, got {c.wrong()}" for c in cells if c.wrong()]
    assert not wrong, f"{len(wrong)} of {len(cells)} cells differ:\n" + "\n".join(wrong)
    leaks = [f"{c.table} {c.label} as {c.actor}: {found}" for c in cells
             for found in leaked(world, PEOPLE_OF[c.table][c.actor], c.got.text, names_ok=c.label in LINE_ROWS)]
    assert not leaks, "bodies with what their reader may not see:\n" + "\n".join(leaks)
    check_the_leak_checks_can_fail(world, cells)

    await barrier(world, sockets)  # the matrix's own messages, X's end, X2's and W's changes: still nobody else's
    leaks = socket_leaks(world, sockets)
    assert not leaks, "frames (during the matrix) with what their reader may not see:\n" + "\n".join(leaks)


def check_the_leak_checks_can_fail(world: World, cells: list[Cell]) -> None:
    """The secrets searched for are where they belong: X's readers' reads show them (notes only to note readers)."""
    def body(label: str, actor: str) -> str:
        return next(c.got.text for c in cells if (c.table, c.label, c.actor) == ("X", label, actor))
    staff_read, widget_read = ("GET /v1/conversations/{conversation_id}/messages",
                               "GET /v1/widget/conversations/{conversation_id}/messages")
    reply, note = world.replies_x[0], world.notes_x[0]
    assert reply in body(staff_read, "assigned") and note in body(staff_read, "assigned")
    assert note in body(staff_read, "supervisor") and note in body(staff_read, "member")
    assert reply in body(staff_read, "favourite") and note not in body(staff_read, "favourite")
    assert reply in body(widget_read, "customer") and note not in body(widget_read, "customer")
    assert world.x.customer_name in body("GET /v1/conversations/{conversation_id}", "offered")
    for search in ("GET /v1/agent/search (in the conversation)", "GET /v1/agent/search"):
        assert reply in body(search, "assigned") and reply not in body(search, "queue_member")
    def line_preview(actor: str) -> str:  # X's customer's row on support, as the actor reads it
        rows = json.loads(body("GET /v1/lines/{line_id}/users", actor))["rows"]
        return next(r["preview"] for r in rows if r["customer_id"] == world.x.customer_id)
    assert line_preview("assigned") and line_preview("supervisor") and not line_preview("queue_member")
    assert not line_preview("admin") and not line_preview("other_supervisor")  # line_rows.py (issue 16)


# Who plays each column, per table (authz_world.PLAYERS), and which of them may read X, its notes too or not.
PEOPLE = {"anonymous": "anonymous", "customer": "x_customer", "other_customer": "y_customer", "assigned": "alice",
          "offered": "bob", "member": "carol", "queue_member": "dave", "favourite": "erin", "supervisor": "sam",
          "other_supervisor": "vera", "admin": "admin", "other_admin": "admin_b"}
PEOPLE_OF = {"X": PEOPLE, "X2": {**PEOPLE, "customer": "x2_customer"},
             "W": {**PEOPLE, "customer": "w_customer", "other_customer": "x_customer", "offered": "olga"}}
READS_X_AND_NOTES = {"alice", "carol", "sam"}
READS_X = {"x_customer", "erin"}  # not the notes
SEES_X_PREVIEW = {"bob"}  # invited: metadata and the customer's last message, not the agents' replies nor notes


def forbidden_for(world: World, person: str, *, names_ok: bool = False) -> list[str]:
    """What `person` may never see in a body or a frame: the other tenant's data; X's data unless they may read X
    (its notes only if they may read notes; an invited agent sees X's preview, not the agents' replies); with
    `names_ok` (a line's users, LINE_ROWS), the names of the tenant's own customers are no secret."""
    if person == "admin_b":
        return world.secrets_a
    if names_ok:
        return [s for s in forbidden_for(world, person) if s != world.x.customer_name]
    forbidden = list(world.secrets_b)
    if person in READS_X:
        forbidden += world.notes_x
    elif person in SEES_X_PREVIEW:
        forbidden += [*world.replies_x, *world.notes_x]
    elif person not in READS_X_AND_NOTES:
        forbidden += world.secrets_x
    return forbidden


def leaked(world: World, person: str, text: str, *, names_ok: bool = False) -> list[str]:
    return [secret for secret in forbidden_for(world, person, names_ok=names_ok) if secret in text]


def dumps(frame: Any) -> str:
    return json.dumps(frame, ensure_ascii=False)
