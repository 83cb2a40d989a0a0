"""The short chaos profile (tests/chaos/run.py): about five minutes of a realistic workload through both
gateways while every service instance is SIGKILLed and restarted, mongod and the broker are killed and
restarted on their data and the broker is frozen; nothing may be lost, duplicated, reordered, double-assigned,
over capacity, forgotten or left unanswered. Slow: CI runs it (.ci/run), the default run does not."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest

from tests.chaos.run import MIN_CONVERSATIONS, PROFILES, chaos

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


async def test_the_short_chaos_profile_loses_nothing():
    seed = random.randrange(100_000)
    with tempfile.TemporaryDirectory(prefix="chaos-") as root:
        report = await chaos(PROFILES["short"], seed, Path(root))
    print(report.table())
    problems = {name: items[:10] for name, items in vars(report.findings).items() if items}
    assert not problems, f"seed {seed} (rerun: python -m tests.chaos --seed {seed}):\n{report.table()}\n{problems}"
    assert report.conversations >= MIN_CONVERSATIONS and len(report.faults) >= 10, report.table()  # it did what it says
