"""What fuzzing the gateway's OpenAPI with schemathesis found (issue 16), kept fixed: the document did not say what
error bodies look like (FastAPI's 422 schema, 401 and 429 undocumented, a route's own 200 model replaced by the
answer's). The other finding, sequence numbers past 64 bits, is tests/e2e/test_operations.py's."""

from __future__ import annotations

import json
from unittest.mock import MagicMock

import pytest

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit


def app():
    gateway = MagicMock()
    gateway.settings = GatewaySettings()
    return create_app(gateway)


def test_every_operation_documents_its_error_bodies_and_its_own_success_model():
    schema = app().openapi()
    assert "HTTPValidationError" not in json.dumps(schema)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for code in ("400", "401", "403", "404", "409", "413", "422", "429"):
                shapes = operation["responses"][code]["content"]["application/json"]["schema"]["anyOf"]
                assert {"$ref": "#/components/schemas/ErrorBody"} in shapes, (method, path, code)
    started = schema["paths"]["/v1/widget/{tenant_id}/conversations"]["post"]["responses"]["200"]
    assert "Started" in json.dumps(started)
    pending = schema["paths"]["/v1/requests/{request_id}"]["get"]["responses"]
    assert "202" in pending


def test_a_body_the_owners_command_refuses_is_422_not_500():
    """Found by schemathesis (admin token): PUT /v1/admin/masking took any phone region, ConfigureMasking takes
    two capital letters only, and the gateway answered 500 building the command. The route's model now uses the
    contract's type; and any other route where the two disagree answers 422 too (logged), never 500."""
    from fastapi.testclient import TestClient
    from pydantic import ValidationError

    from services.gateway.api_masking import MaskingPolicy
    from shared.contracts import chat

    with pytest.raises(ValidationError):
        MaskingPolicy(phone_regions=["", "lv"])
    assert MaskingPolicy(phone_regions=["LV"]).phone_regions == ["LV"]

    web = app()

    @web.get("/test/command-contract")
    async def builds_a_bad_command() -> None:
        chat.ConfigureMasking(phone_regions=["x"], request_id="r1")

    @web.get("/test/own-fault")
    async def breaks_something_else() -> None:
        MaskingPolicy(phone_regions=["x"])

    client = TestClient(web, raise_server_exceptions=False)
    refused = client.get("/test/command-contract")
    assert refused.status_code == 422 and refused.json()["error"] == "invalid", refused.text
    assert refused.json()["detail"][0]["field"] == "phone_regions.0"
    assert client.get("/test/own-fault").status_code == 500  # not the owner's contract: the gateway's own bug


def test_the_gateways_database_not_answering_is_503_with_retry_after_not_500():
    """Found by the long chaos profile (seed 31): while mongod restarted, a customer's message whose retry check
    read the gateway's database got a 500 with a stack; it is a 503 to retry (the Idempotency-Key makes the
    retry safe), for every route."""
    from fastapi.testclient import TestClient
    from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

    web = app()

    @web.post("/test/reset")
    async def connection_reset() -> None:
        raise AutoReconnect("127.0.0.1:27017: [Errno 104] Connection reset by peer")

    @web.get("/test/no-primary")
    async def no_server() -> None:
        raise ServerSelectionTimeoutError("127.0.0.1:27017: [Errno 111] Connect call failed")

    client = TestClient(web, raise_server_exceptions=False)
    for answer in (client.post("/test/reset"), client.get("/test/no-primary")):
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["error"] == "unavailable" and "not answering" in answer.json()["detail"]
