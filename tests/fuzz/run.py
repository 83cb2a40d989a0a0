"""Fuzzing the gateway's OpenAPI with schemathesis, once for each kind of caller (issue 16).

    .venv/bin/python -m tests.fuzz [--max-examples 20] [--roles anonymous,customer,agent,supervisor,admin]
        [--phases examples,coverage,fuzzing] [--seed 1] [--keep]

Starts the whole system (as the end-to-end tests do), sets up one tenant with a queue, an agent who holds a
conversation, a supervisor of the queue, a customer of that conversation, a contact, an account and a case, then
runs `schemathesis run` against the gateway's /openapi.json once per caller: anonymous (no token), the customer
(the conversation's token), the agent, the supervisor and the admin (last: its run may change the tenant). Path
parameters are pinned to the ids set up (schemathesis.toml written for the run), so requests reach real
records instead of 404s; bodies and queries are generated. Checks: no server error, every status and content
type documented, every body matching its documented schema. Prints one line per caller and the failures, and
exits 1 when any check failed.

Left out, because they end the caller's token or account mid-run: sign-out, password change, and changing staff
accounts (an admin would deactivate the others' accounts or its own). Their refusals are covered by the
authorisation matrix test (tests/e2e/test_authz_matrix.py) and their effects by e2e tests."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.testing.system import System
from shared.testing.tenants import PASSWORD, Tenant
from tests.e2e.helpers import accept, answered, available

ROLES = ("anonymous", "customer", "agent", "supervisor", "admin")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# schemathesis's failure codes in its report, by check
KINDS = {"Server error": "server error", "Undocumented HTTP status": "undocumented status",
         "Undocumented Content-Type": "undocumented content type", "Response violates schema": "schema violation",
         "Missing Content-Type": "undocumented content type"}
EXCLUDED = r"^/v1/auth/(sign-out|password)$|^/v1/admin/staff"
SERVICE_ENV = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8192", "RATE_LIMIT_PER_S": "1000000",
               "RATE_LIMIT_BURST": "1000000", "CHAT_STARTS_PER_MINUTE": "1000000", "ACCESS_TTL_S": "86400",
               "ANSWER_TIMEOUT_S": "30"}


@dataclass
class World:
    tenant_id: str
    tokens: dict[str, str | None]
    ids: dict[str, str]


@dataclass
class Outcome:
    role: str
    seconds: float
    exit_code: int
    operations: int = 0
    pending: int = 0  # 504 with an answer_url: the owner had not answered in time (documented, not a crash)
    failures: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)


async def set_up(system: System) -> World:
    tenant_id = f"t-{uuid.uuid4().hex[:10]}"
    settings = GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1, argon2_memory_kib=8192)
    assert await create_tenant(settings, tenant_id, "admin", PASSWORD)
    tenant = Tenant(system, tenant_id)
    tenant.admin = await tenant.sign_in("admin")
    agent = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    supervisor = await tenant.agent("sue", role="supervisor", supervises=["support"])
    desk = await tenant.stream(agent)
    await available(agent)
    customer, started = await tenant.customer("support", "Hello, my invoice is wrong")
    cid = started["conversation_id"]
    await accept(agent, desk, cid)
    contact = await answered(tenant.admin, "/v1/contacts", {"full_name": "Ann Fuzz", "email": "ann@example.com"})
    account = await answered(tenant.admin, "/v1/accounts", {"name": "Fuzz Ltd"})
    case = await answered(agent, "/v1/cases", {"title": "Invoice wrong", "conversation_id": cid})
    message = await customer.post(f"/v1/widget/conversations/{cid}/messages",
                                  {"client_message_id": "m-1", "text": "Any news?"})
    assert message.status_code == 200, message.text
    ids = {"tenant_id": tenant_id, "conversation_id": cid, "queue_id": "support", "line_id": "support",
           "contact_id": contact["result_id"], "record_id": case["result_id"], "account_id": account["result_id"],
           "case_id": case["result_id"], "customer_id": started["customer_id"], "user_id": "alice", "seq": "1"}
    tokens = {"anonymous": None, "customer": customer.token, "agent": agent.token, "supervisor": supervisor.token,
              "admin": tenant.admin.token}
    await desk.close()
    return World(tenant_id, tokens, ids)


def config(world: World, root: Path) -> Path:
    """A schemathesis.toml pinning path parameters to the world's ids."""
    path = root / "schemathesis.toml"
    lines = ["[parameters]"] + [f'"path.{name}" = {json.dumps(value)}' for name, value in world.ids.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def fuzz(system: System, world: World, role: str, root: Path, args: argparse.Namespace) -> Outcome:
    junit = root / f"{role}.xml"
    command = [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config(world, root)), "run",
               f"{system.gateway_url}/openapi.json", "--checks", CHECKS, "--phases", args.phases,
               "--max-examples", str(args.max_examples), "--seed", str(args.seed), "--workers", "1",
               "--exclude-path-regex", EXCLUDED, "--request-timeout", "30", "--no-shrink",
               "--report", "junit,har", "--report-junit-path", str(junit),
               "--report-har-path", str(root / f"{role}.har")]
    token = world.tokens[role]
    if token:
        command += ["--header", f"Authorization: Bearer {token}"]
    began = time.monotonic()
    with open(root / f"{role}.log", "w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=root, check=False)
    outcome = Outcome(role, time.monotonic() - began, done.returncode)
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            if case.find("skipped") is not None:
                continue
            outcome.operations += 1
            for failure in [*case.iter("failure"), *case.iter("error")]:
                text = (failure.get("message") or "") + (failure.text or "")
                if "[504]" in text and "answer_url" in text:
                    outcome.pending += 1  # no answer within ANSWER_TIMEOUT_S: the documented 504, by design
                    continue
                kind = next((k for k in KINDS if k in text), "other")
                outcome.failures[KINDS.get(kind, kind)] += 1
                if len(outcome.examples) < 10:
                    outcome.examples.append(f"{case.get('name')}: {text.strip().splitlines()[0][:200]}")
    return outcome


def main(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="fuzz-"))
    system = System(root / "system", service_env=dict(SERVICE_ENV))
    (root / "system").mkdir()
    system.start()
    outcomes = []
    try:
        world = asyncio.run(set_up(system))
        for role in args.roles.split(","):
            outcome = fuzz(system, world, role, root, args)
            outcomes.append(outcome)
            print(f"{role:11s} {outcome.operations:4d} operations  {outcome.seconds:6.0f} s  exit {outcome.exit_code}  "
                  f"failures: {dict(outcome.failures) or 0}  504 pending: {outcome.pending}", flush=True)
    finally:
        system.stop()
        print(f"logs and reports: {root}" if args.keep else "", flush=True)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    for outcome in outcomes:
        for example in outcome.examples:
            print(f"  {outcome.role}: {example}")
    # schemathesis exits 1 for a 504 too; those are counted apart (pending): fail on anything else
    return 1 if any(o.failures or (o.exit_code != 0 and not o.pending) for o in outcomes) else 0


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--max-examples", type=int, default=20)
    parser.add_argument("--phases", default="examples,coverage,fuzzing")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the logs and junit reports")
    sys.exit(main(parser.parse_args()))
