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


def _whoami() -> tuple[int, int]:
    return os.getpid(), os.getpriority(os.PRIO_PROCESS, 0)


def test_side_work_in_a_process_runs_in_one_child_at_a_lower_priority_and_a_dead_child_is_replaced():
    import asyncio
    import signal

    from shared.background import LowPriorityProcess

    process = LowPriorityProcess("test")
    try:
        pid, nice = asyncio.run(process.call(_whoami))
        assert pid != os.getpid() and nice >= NICE > os.getpriority(os.PRIO_PROCESS, 0)
        assert asyncio.run(process.call(_whoami))[0] == pid  # the same child keeps what it loaded

        os.kill(pid, signal.SIGKILL)  # killed (out of memory, say): the next call gets a new child
        new_pid, _ = asyncio.run(process.call(_whoami))
        assert new_pid != pid and process.started == 2
    finally:
        process.shutdown()


def _slow_whoami(seconds: float) -> int:
    import time
    time.sleep(seconds)
    return os.getpid()


def test_callers_waiting_on_a_child_that_dies_share_one_new_child():
    import asyncio
    import signal

    from shared.background import LowPriorityProcess

    process = LowPriorityProcess("test")

    async def scenario() -> list[int]:
        pid = await process.call(_slow_whoami, 0)
        waiting = [asyncio.ensure_future(process.call(_slow_whoami, 1.0)) for _ in range(4)]
        await asyncio.sleep(0.3)  # the first is running in the child, the others queued
        os.kill(pid, signal.SIGKILL)
        return [pid, *await asyncio.gather(*waiting)]

    try:
        first, *after = asyncio.run(scenario())
        assert first not in after and len(set(after)) == 1  # every caller retried in the same new child
        assert process.started == 2
    finally:
        process.shutdown()


PARENT = """
import asyncio, sys, time
from shared.background import LowPriorityProcess
from tests.unit.shared.test_background import _whoami
if __name__ == "__main__":
    side = LowPriorityProcess("test")  # kept: the child lives as long as it
    print(asyncio.run(side.call(_whoami))[0], flush=True)
    time.sleep(120)
"""


def test_the_child_dies_with_a_parent_killed_without_warning(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": root})
    try:
        child = int(parent.stdout.readline())
        os.kill(child, 0)  # alive
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:  # gone, or dead and not reaped yet (a zombie: this machine's init may leave it)
                if open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
            except FileNotFoundError:
                return
            time.sleep(0.05)
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the child outlived its parent")
    finally:
        parent.kill()


def test_what_a_process_keeps_is_made_once_per_key():
    from shared.background import kept

    made: list[str] = []

    def make(name: str) -> object:
        made.append(name)
        return object()
    first = kept(("test-kept", 1), lambda: make("a"))
    assert kept(("test-kept", 1), lambda: make("b")) is first
    assert kept(("test-kept", 2), lambda: make("c")) is not first
    assert made == ["a", "c"]
