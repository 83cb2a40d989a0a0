"""Each service's AsyncAPI document, as /asyncapi.json serves it, passes the official AsyncAPI parser
(@asyncapi/parser, run with node from deploy/asyncapi-check) and is typed from the contracts."""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from shared.contracts.answers import ANSWERS
from shared.contracts.deadletter import MessageDeadLettered
from shared.contracts.envelope import Message, registered_types
from shared.contracts.routing import COMMANDS, EVENTS

pytestmark = pytest.mark.unit

SERVICES = ("routing", "chat", "customer", "cases", "gateway")
CHECK = Path(__file__).resolve().parents[3] / "deploy" / "asyncapi-check"


def validate(*documents: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if not (CHECK / "node_modules" / "@asyncapi" / "parser").is_dir():
        pytest.fail(f"the AsyncAPI parser is not installed: ./dev test installs it (npm ci in {CHECK})")
    return subprocess.run(["node", "validate.mjs", *map(str, documents)], cwd=CHECK, input=stdin,
                          capture_output=True, text=True, timeout=120)


async def _get(app: Any, path: str) -> tuple[int, bytes]:
    """One GET through the service's ASGI app, in process (nothing is started or connected)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
               "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
               "headers": [], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.fixture(scope="module")
async def documents() -> dict[str, dict[str, Any]]:
    served = {}
    for name in SERVICES:
        runtime = importlib.import_module(f"services.{name}.bootstrap").bootstrap()
        status, body = await _get(runtime.asgi_app(), "/asyncapi.json")
        assert status == 200, body
        served[name] = json.loads(body)
        await runtime.mongo.close()
    return served


def resolve(document: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """What a local reference points at, following references to references."""
    while "$ref" in reference:
        node: Any = document
        for part in reference["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        reference = node
    return reference


def channel_messages(document: dict[str, Any], channel: str) -> dict[str, dict[str, Any]]:
    return {key: resolve(document, r) for key, r in document["channels"][channel]["messages"].items()}


def test_every_service_document_is_valid_for_the_asyncapi_parser(documents, tmp_path):
    paths = []
    for name, document in documents.items():
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(document))
    result = validate(*paths)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in paths:
        assert f"VALID {path} (AsyncAPI 3.0.0," in result.stdout


def test_a_broken_document_is_reported_invalid_with_the_reason(documents):
    broken = copy.deepcopy(documents["routing"])
    del broken["info"]["title"]
    broken["operations"]["on_routing_commands"]["action"] = "publish"  # AsyncAPI 2's word, not 3's
    result = validate(stdin=json.dumps(broken))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("INVALID (stdin)")
    assert "error" in result.stdout and "info" in result.stdout and "on_routing_commands/action" in result.stdout


def test_routing_consumes_every_routing_command_by_name_each_in_its_typed_envelope(documents):
    document = documents["routing"]
    consumed = channel_messages(document, "on_routing_commands")
    assert set(consumed) == {c.TYPE for c in COMMANDS}
    for command in COMMANDS:
        message = consumed[command.TYPE]
        assert (message["name"], message["title"]) == (command.TYPE, command.__name__)
        envelope = resolve(document, message["payload"])
        assert envelope["title"] == f"Envelope[{command.__name__}]"
        assert envelope["properties"]["type"]["const"] == command.TYPE
        assert {"event_id", "tenant_id", "key", "occurred_at"} <= set(envelope["properties"])
        assert resolve(document, envelope["properties"]["payload"])["title"] == command.__name__
    operation = document["operations"]["on_routing_commands"]
    assert operation["action"] == "receive"
    assert [resolve(document, r)["name"] for r in operation["messages"]] == list(consumed)
    assert "binary" not in json.dumps(document)  # FastStream's view of the raw bytes is gone


def test_routing_publishes_its_events_and_every_service_its_dead_letters(documents):
    assert set(channel_messages(documents["routing"], "to_routing_events")) == {e.TYPE for e in (*EVENTS, *ANSWERS)}
    for document in documents.values():
        assert set(channel_messages(document, "to_platform_deadletter")) == {MessageDeadLettered.TYPE}


def test_every_message_has_a_title_and_the_description_of_its_payload_class(documents):
    types: dict[str, type[Message]] = registered_types()
    for name, document in documents.items():
        messages = document["components"]["messages"]
        assert messages, name
        for key, message in messages.items():
            assert message["title"] == types[key].__name__, (name, key)
            assert message["description"] == inspect.getdoc(types[key]), (name, key)
