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
