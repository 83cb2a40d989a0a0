"""The gateway fuzzed with schemathesis, a token of each role (tests/fuzz/run.py), a few examples per operation:
no server error, every status, content type and body as documented. Slow: CI runs it (.ci/run); the full run
with more examples is `python -m tests.fuzz`."""

from __future__ import annotations

import argparse

import pytest

from tests.fuzz.run import ROLES, main

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_every_role_fuzzes_the_gateway_without_a_server_error_or_an_undocumented_answer(capsys):
    status = main(argparse.Namespace(roles=",".join(ROLES), max_examples=3, phases="examples,coverage,fuzzing",
                                     seed=7, keep=False))
    printed = capsys.readouterr().out
    print(printed)
    assert status == 0, printed
    assert printed.count(" operations ") == len(ROLES), printed  # every role's run happened
