"""The clock as an entrypoint: offer time-outs (RONA), overflow, persistent-chat expiry, dispatch sweep.

Deadlines live in MongoDB, so they survive a restart; with several instances every one runs this
loop, and the state checks inside each transaction make a second run of the same deadline a no-op."""

import asyncio
import time

from services.routing.handlers import RoutingHandlers
from shared.logging import get_logger

log = get_logger(__name__)


async def run_timers(handlers: RoutingHandlers, *, interval_s: float, sweep_interval_s: float) -> None:
    last_sweep = 0.0
    while True:
        try:
            await handlers.run_due_timers()
            if time.monotonic() - last_sweep >= sweep_interval_s:
                await handlers.sweep_queues()
                last_sweep = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database away for a moment: deadlines stay stored, try again
            log.warning("timer pass failed", error=repr(exc))
        await asyncio.sleep(interval_s)
