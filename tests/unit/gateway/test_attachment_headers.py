"""How the gateway serves a file (api_attachments.py): always as a download, never as something a browser
renders or runs in the gateway's origin."""

from __future__ import annotations

import pytest

from services.gateway.api_attachments import INERT, content_disposition, download_headers, served_type

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("stored", ["image/png", "image/jpeg", "application/pdf", "text/plain", "text/csv",
                                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document"])
def test_passive_types_keep_their_type(stored):
    assert served_type(stored) == stored
    assert served_type(stored.upper() + "; charset=utf-8") == stored


@pytest.mark.parametrize("stored", [
    "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml", "application/rss+xml",
    "text/javascript", "application/javascript", "application/x-javascript", "application/ecmascript",
    "text/css", "text/x-python", "application/x-sh", "application/x-httpd-php", "multipart/related",
    "message/rfc822", "application/wasm", "application/xslt+xml", "nonsense", "",
])
def test_anything_a_browser_could_render_or_run_is_served_as_octet_stream(stored):
    assert served_type(stored) == INERT


def test_the_name_is_always_an_attachment_with_an_ascii_fallback_and_the_exact_utf8_name():
    header = content_disposition('rêve "final";.pdf')
    assert header.startswith("attachment; ")
    assert 'filename="r_ve _final__.pdf"' in header
    assert "filename*=UTF-8''r%C3%AAve%20%22final%22%3B.pdf" in header


def test_download_headers_forbid_sniffing_and_inline_rendering():
    headers = download_headers(name="a.png", size="12", sha256="ab")
    assert headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in headers["content-security-policy"] and "default-src 'none'" in headers[
        "content-security-policy"]
    assert headers["content-disposition"].startswith("attachment;")
    assert headers["content-length"] == "12" and headers["cache-control"] == "private, no-store"
