"""Side work's executor runs on one thread below the process's priority (Linux: nice per thread)."""

from __future__ import annotations

import os
import threading

import pytest

from shared.background import NICE, low_priority_executor

pytestmark = pytest.mark.unit


def test_side_work_runs_on_one_thread_at_a_lower_priority_than_the_callers():
    executor = low_priority_executor("test")
    try:
        tids = {executor.submit(threading.get_native_id).result() for _ in range(5)}
        assert len(tids) == 1
        tid = tids.pop()
        assert tid != threading.get_native_id()
        assert os.getpriority(os.PRIO_PROCESS, tid) >= NICE > os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    finally:
        executor.shutdown()
