"""CPU-heavy side work (embedding models: suggestions, sentiment) on one thread of its own at a lower scheduling
priority, so that it never takes the cores the message path needs: on a busy machine the side work falls
behind (its consumers may lag, by design) instead of slowing every message.

Linux applies `nice` per thread: the executor's thread lowers its own priority once, when it starts."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import threading

NICE = 10


def _lower_this_thread(nice: int) -> None:
    tid = threading.get_native_id()
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or not allowed: run at normal priority
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), nice))


def low_priority_executor(name: str, nice: int = NICE) -> concurrent.futures.ThreadPoolExecutor:
    """One worker thread at `nice` (10: below everything else in the process and on the machine)."""
    return concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=name, initializer=_lower_this_thread,
                                                 initargs=(nice,))
