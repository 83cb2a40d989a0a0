"""The agent desktop and the customer widget (G6): static files from `web/`, served at /web/ with a
Content-Security-Policy that allows only the gateway's own scripts, styles and sockets (no inline script)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

WEB = Path(__file__).parent / "web"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-cache"}


class Pages(StaticFiles):
    """StaticFiles whose every answer carries the pages' security headers."""

    async def get_response(self, path: str, scope: Any) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(HEADERS)
        return response


def mount(app: FastAPI) -> None:
    app.mount("/web", Pages(directory=WEB, html=True), name="web")

    @app.get("/desk", include_in_schema=False)
    async def desk() -> RedirectResponse:
        return RedirectResponse("/web/desk.html")

    @app.get("/widget", include_in_schema=False)
    async def widget() -> RedirectResponse:
        return RedirectResponse("/web/widget.html")
