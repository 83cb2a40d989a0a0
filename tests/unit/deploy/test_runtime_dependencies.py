"""The image installs requirements.lock only (Dockerfile): every package the services import at run time must be
in it. A package only in requirements-dev.lock works under ./dev and the tests, and fails in the container at
start (the gateway's httpx did: `ModuleNotFoundError: No module named 'httpx'`)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
# Not in the image's code paths: the local infrastructure of ./dev (mongod from its wheel) and the test fixtures.
DEV_ONLY = ("shared/localstack/", "shared/testing/")


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(lock: Path) -> set[str]:
    return {normalised(line.split("==")[0]) for line in lock.read_text().splitlines() if re.match(r"^[A-Za-z0-9]", line)}


def third_party_imports(path: Path) -> set[str]:
    """The top-level names of the absolute imports of a module that are neither the standard library's nor ours."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("services", "shared", "__future__")}


def missing_from(lock: Path) -> list[str]:
    distributions = importlib.metadata.packages_distributions()
    runtime = locked(lock)
    missing = []
    for path in sorted([*ROOT.glob("services/**/*.py"), *ROOT.glob("shared/**/*.py")]):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(DEV_ONLY):
            continue
        for name in sorted(third_party_imports(path)):
            if not any(normalised(d) in runtime for d in distributions.get(name, [name])):
                missing.append(f"{relative}: {name}")
    return missing


def test_every_package_the_services_import_is_in_the_runtime_lock() -> None:
    missing = missing_from(ROOT / "requirements.lock")
    assert not missing, f"imported at run time but not in requirements.lock (the image's): {missing}"


def test_the_check_sees_a_package_only_the_dev_lock_has(tmp_path: Path) -> None:
    """The same check against a runtime lock without httpx names the gateway's modules that import it."""
    lock = tmp_path / "requirements.lock"
    lock.write_text("\n".join(line for line in (ROOT / "requirements.lock").read_text().splitlines()
                              if not line.startswith("httpx==")))
    assert "services/gateway/bootstrap.py: httpx" in missing_from(lock)
