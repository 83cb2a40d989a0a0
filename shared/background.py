"""CPU-heavy side work (embedding models: suggestions, sentiment) below the message path's priority, so that it
never takes what the message path needs: on a busy machine the side work falls behind (its consumers may lag, by
design) instead of slowing every message.

- `low_priority_executor`: one thread of its own at a lower scheduling priority (Linux applies `nice` per thread:
  the executor's thread lowers its own priority once, when it starts). A thread still shares the process's GIL.
- `LowPriorityProcess`: one child process of its own at a lower priority, for work that holds the GIL for part of
  its time (the embedding engine does: a thread spinning beside it ran 29% slower, measured). The child is
  spawned on first use (a fresh interpreter: nothing of the parent's threads or sockets), and spawned again if it
  dies."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

NICE = 10


def _lower_this_thread(nice: int) -> None:
    tid = threading.get_native_id()
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or not allowed: run at normal priority
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), nice))


def low_priority_executor(name: str, nice: int = NICE) -> concurrent.futures.ThreadPoolExecutor:
    """One worker thread at `nice` (10: below everything else in the process and on the machine)."""
    return concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=name, initializer=_lower_this_thread,
                                                 initargs=(nice,))


def _die_with_parent() -> None:
    """Linux: the kernel kills this process when the parent's thread that spawned it ends (the event loop's: with
    the service, even one killed with SIGKILL, so no child is left holding a model's memory); elsewhere nothing."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes
        parent = os.getppid()
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # it died before the line above
            os._exit(0)


def _start_child(nice: int) -> None:
    """In the child: lower its priority, and log as the service does (its settings come from the environment).
    Ctrl-C in a terminal reaches the whole process group: the parent stops it, not the signal."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, max(os.getpriority(os.PRIO_PROCESS, 0), nice))
    from shared.logging import configure_logging
    from shared.settings import ServiceSettings
    settings = ServiceSettings()
    configure_logging(settings.log_level, settings.log_json)


_KEPT: dict[Any, Any] = {}


def kept(key: Any, make: Callable[[], T]) -> T:
    """What this process made once for `key` (in a LowPriorityProcess's child: its model, loaded by the first call
    and kept for the next ones)."""
    if key not in _KEPT:
        _KEPT[key] = make()
    return _KEPT[key]


class LowPriorityProcess:
    """Calls run one at a time in a child process at `nice`: `await call(function, *args)`, where `function` is a
    module-level function (it is sent by name) and the arguments and result can be pickled. The child keeps what
    it loads (a model) between calls; if it dies, the call is retried once in a new child (a call that kills the
    child itself, say a crash of the engine on one input, so kills two, then raises BrokenProcessPool).
    The pool is first used from the event loop's thread: the kernel kills the child when that thread ends."""

    def __init__(self, name: str, nice: int = NICE) -> None:
        self.name, self.nice = name, nice
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.started = 0  # children spawned so far

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:  # spawned by the thread that submits (the event loop's: it lasts as long as
            # the process, and the child is killed when it ends)
            self._pool = concurrent.futures.ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=_start_child,
                initargs=(self.nice,))
            self.started += 1
        return self._pool

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        pool = self._executor()
        try:
            return await loop.run_in_executor(pool, function, *args)
        except BrokenProcessPool:  # the child died (killed, out of memory): a new one, once
            if self._pool is pool:  # the first caller to see it replaces it; the others use the new one
                self.shutdown()
            return await loop.run_in_executor(self._executor(), function, *args)

    def shutdown(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:  # calls still queued on it fail with BrokenProcessPool (a broken pool) or finish
            pool.shutdown(wait=False)
