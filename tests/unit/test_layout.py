"""Every test folder is a package, so two folders may hold modules of the same name (tests/unit/routing/
test_handlers.py and tests/unit/chat/test_handlers.py) without pytest's "import file mismatch"."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_folder_is_a_package():
    folders = {p.parent for p in TESTS.rglob("*.py")}
    missing = sorted(str(f.relative_to(TESTS.parent)) for f in folders if not (f / "__init__.py").exists())
    assert not missing, f"add an empty __init__.py to {missing}"
