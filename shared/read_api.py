"""The FastAPI app a service's internal read API is served from (`runtime.serve_http`), the same for every
service: its routers are mounted on it, and MongoDB not answering is a 503 with the reason, not a 500."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure


def internal_api(service: str, description: str, *routers: APIRouter) -> FastAPI:
    app = FastAPI(title=f"{service} internal read API", version="0.1.0", description=description)
    for router in routers:
        app.include_router(router)

    @app.exception_handler(ConnectionFailure)
    async def database_unavailable(request: Request, exc: ConnectionFailure) -> JSONResponse:
        return JSONResponse({"detail": f"{service}'s database is not answering ({type(exc).__name__})"},
                            status_code=503)

    return app
