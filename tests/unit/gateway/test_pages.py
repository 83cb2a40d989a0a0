"""The desktop's and the widget's files are served with a Content-Security-Policy that forbids inline script."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.gateway import pages

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    pages.mount(app)
    return TestClient(app)


@pytest.mark.parametrize("path", ["/web/desk.html", "/web/widget.html", "/web/desk.js", "/web/style.css"])
def test_every_file_carries_the_policy_and_nosniff(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy and "default-src 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_pages_hold_no_inline_script_or_handler():
    for page in pages.WEB.glob("*.html"):
        html = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), page.name  # every script is a file
        assert not re.search(r"\son[a-z]+=", html), page.name  # no inline event handlers


def test_short_paths_lead_to_the_pages(client):
    assert client.get("/desk", follow_redirects=False).headers["location"] == "/web/desk.html"
    assert client.get("/widget", follow_redirects=False).headers["location"] == "/web/widget.html"
