"""The live streams: one WebSocket per signed-in agent (all its conversations, offers, presence) and one
per customer conversation. Every frame carries the stream's `position`; a client that reconnects with
`?after=<last position>` gets what it missed, each frame once, or one `resync` frame when that is older
than the replay window. `?after=-1` (the default) starts with new frames only: read the state first."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect
from shared.runtime import cancel_all

from services.gateway.adapters.store import agent_stream, customer_stream
from services.gateway.identity import customer_from_token, staff_from_token
from services.gateway.live import Hub, SocketClosed, Subscriber

router = APIRouter()
SIGNED_OUT = 4401  # close code: not signed in, or the session ended (sign-out, revocation, deactivation)


@router.websocket("/v1/agent/stream")
async def agent_socket(websocket: WebSocket, after: int = -1) -> None:
    gw = websocket.app.state.gateway
    staff = await staff_from_token(gw.db, gw.tokens, websocket.query_params.get("access_token"))
    await websocket.accept()  # then close with a code: a browser sees a close code, never a refused handshake's status
    if staff is None:
        await websocket.close(code=SIGNED_OUT, reason="not signed in")
        return
    await _serve(gw.hub, websocket, Subscriber(agent_stream(staff.tenant_id, staff.user_id), staff.sign_in), after)


@router.websocket("/v1/widget/stream")
async def customer_socket(websocket: WebSocket, after: int = -1) -> None:
    gw = websocket.app.state.gateway
    customer = customer_from_token(gw.tokens, websocket.query_params.get("token"))
    await websocket.accept()
    if customer is None:
        await websocket.close(code=SIGNED_OUT, reason="not signed in")
        return
    await _serve(gw.hub, websocket, Subscriber(customer_stream(customer.tenant_id, customer.conversation_id)), after)


async def _serve(hub: Hub, websocket: WebSocket, sub: Subscriber, after: int) -> None:
    async def send(frame: dict[str, Any]) -> None:
        await websocket.send_json(frame, mode="text")

    async def listen() -> None:  # the client only pings; its disconnect ends the stream
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return

    streaming = asyncio.create_task(hub.stream(sub, after, send))
    listening = asyncio.create_task(listen())
    done, pending = await asyncio.wait({streaming, listening}, return_when=asyncio.FIRST_COMPLETED)
    await cancel_all(pending)  # bounded: a read of the replay can swallow a cancellation
    closed_by_stream = streaming in done and (streaming.exception() is None
                                              or isinstance(streaming.exception(), SocketClosed))
    if listening in done:
        return  # the client went away
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        if closed_by_stream:
            await websocket.close(code=SIGNED_OUT, reason="session ended")
        else:
            await websocket.close(code=1011, reason="stream failed")
