"""Every mongod the system runs (`./dev run` and the test fixtures' local one, the fixtures' container,
docker-compose.yml, deploy/k8s/mongo.yaml) gets the same server parameters, MONGOD_PARAMETERS: with mongod's
default transactionLifetimeLimitSeconds (60) a crashed service instance's open transaction blocks the documents
it wrote for 60 to 90 s (shared/localstack/processes.py says why; tests/integration/test_orphaned_transaction.py
shows it on a real mongod)."""

from pathlib import Path

import pytest
import yaml

from shared.localstack.processes import MONGOD_PARAMETERS, MONGOD_TRANSACTION_LIFETIME_S, LocalMongo, mongod_parameter_args

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


def parameters(argv: list[str]) -> dict[str, str]:
    """The --setParameter name=value pairs of a mongod command line."""
    pairs = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--setParameter"]
    return dict(pair.split("=", 1) for pair in pairs)


WANTED = {name: str(value) for name, value in MONGOD_PARAMETERS.items()}


def test_the_transaction_lifetime_is_short_beside_the_partition_handover():
    # the orphan is aborted 1 to 1.5 lifetimes after it began; partitions move after 10 s (KAFKA_SESSION_TIMEOUT_MS)
    assert MONGOD_PARAMETERS["transactionLifetimeLimitSeconds"] == MONGOD_TRANSACTION_LIFETIME_S <= 10
    assert parameters(mongod_parameter_args()) == WANTED


def test_the_local_mongod_gets_them(tmp_path):
    assert parameters(LocalMongo(tmp_path, 27017).proc.argv).items() >= WANTED.items()


def test_docker_compose_gives_them_to_its_mongo():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert parameters(compose["services"]["mongo"]["command"]) == WANTED


def test_kubernetes_gives_them_to_its_mongo():
    documents = [d for d in yaml.safe_load_all((ROOT / "deploy/k8s/mongo.yaml").read_text()) if d]
    (statefulset,) = [d for d in documents if d["kind"] == "StatefulSet"]
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    assert parameters(container["args"]) == WANTED


def test_the_fixtures_container_gets_them():
    source = (ROOT / "shared/testing/fixtures.py").read_text().splitlines()
    (line,) = [line for line in source if 'DockerContainer("mongo:' in line]
    assert "*mongod_parameter_args()" in line
