"""docker-compose.yml's service blocks, deploy/k8s/services/ and the Dockerfile's EXPOSE line are what
`python -m deploy.generate` writes from shared/registry.py, so nobody edits them by hand."""

import re
from pathlib import Path

import pytest

from deploy import generate
from shared.registry import SERVICES, Service

pytestmark = pytest.mark.unit

ROOT = generate.ROOT
HINT = "edit shared/registry.py (or deploy/k8s/service-base/) and run `python -m deploy.generate`"


def generated_paths(root: Path) -> set[Path]:
    overlays = {p.relative_to(root) for p in (root / generate.OVERLAYS).rglob("*") if p.is_file()}
    return overlays | {generate.COMPOSE, generate.DOCKERFILE}


def test_the_committed_files_are_what_the_registry_generates(tmp_path):
    generate.write(generate.render(ROOT), tmp_path)
    assert generated_paths(ROOT) == generated_paths(tmp_path), HINT
    differ = [str(p) for p in sorted(generated_paths(tmp_path)) if (tmp_path / p).read_text() != (ROOT / p).read_text()]
    assert not differ, f"{differ} differ from the registry: {HINT}"


def test_a_second_run_changes_nothing(tmp_path):
    files = generate.render(ROOT)
    assert generate.write(files, tmp_path)
    assert generate.write(files, tmp_path) == []


def test_compose_publishes_only_the_public_services_ports():
    compose = generate.compose((ROOT / generate.COMPOSE).read_text())
    published = re.findall(r'^ +- "(\d+):(\d+)"$', compose, flags=re.MULTILINE)
    assert published == [(str(s.http_port), str(s.http_port)) for s in SERVICES if s.public] == [("8000", "8000")]


def test_a_new_service_is_one_registry_entry_and_a_removed_one_leaves_nothing(tmp_path, monkeypatch):
    billing = Service("billing", 8105, mongo_db="billing", description="invoices")
    monkeypatch.setattr(generate, "SERVICES", (*SERVICES, billing))
    generate.write(generate.render(ROOT), tmp_path)
    overlay = (tmp_path / generate.OVERLAYS / "billing" / "kustomization.yaml").read_text()
    assert "value: [python, -m, services.billing]}" in overlay and 'value: "8105"' in overlay and "value: 1}" in overlay
    assert "/resources/limits/memory, value: 512Mi}" in overlay  # the default limit
    assert "  - billing\n" in (tmp_path / generate.OVERLAYS / "kustomization.yaml").read_text()
    assert "EXPOSE 8000 8101 8102 8103 8104 8105\n" in (tmp_path / generate.DOCKERFILE).read_text()
    assert '  billing:\n    <<: *service\n    command: ["python", "-m", "services.billing"]' in (
        tmp_path / generate.COMPOSE).read_text()

    monkeypatch.setattr(generate, "SERVICES", SERVICES)
    generate.write(generate.render(ROOT), tmp_path)
    assert not (tmp_path / generate.OVERLAYS / "billing").exists()
    assert "billing" not in (tmp_path / generate.COMPOSE).read_text()
    assert "EXPOSE 8000 8101 8102 8103 8104\n" in (tmp_path / generate.DOCKERFILE).read_text()


def test_files_without_their_markers_are_refused():
    with pytest.raises(SystemExit, match="marker"):
        generate.compose("services:\n  kafka:\n    image: apache/kafka:4.4.0\n")
    with pytest.raises(SystemExit, match="exactly one EXPOSE"):
        generate.dockerfile("FROM python:3.11-slim\n")


def test_each_overlay_sets_its_services_memory_limit():
    """The gateway holds every socket and hashes sign-ins: its limit is its own, above the base's 512Mi."""
    for s in SERVICES:
        overlay = (ROOT / generate.OVERLAYS / s.name / "kustomization.yaml").read_text()
        assert f"/resources/limits/memory, value: {s.memory_limit}}}" in overlay
    assert next(s for s in SERVICES if s.name == "gateway").memory_limit == "1536Mi"
