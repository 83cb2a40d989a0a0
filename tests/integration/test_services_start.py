"""Each service, as the real process users run, starts, connects, reports healthy and stops cleanly."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import urllib.request

import pytest

from services.gateway.settings import DEV_TOKEN_SECRET
from shared.broker import ensure_topics
from shared.contracts.catalogue import TOPICS
from shared.localstack.__main__ import SERVICES
from shared.localstack.kafka import LocalKafka
from shared.localstack.processes import LocalMongo, free_port
from shared.testing.fixtures import Infrastructure, service_env
from shared.testing.kafka import eventually

pytestmark = pytest.mark.integration


def _get(url: str, timeout_s: float = 2) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError as exc:
        return 0, str(exc).encode()


async def _start_check_stop(name: str, infra, unique: str) -> dict:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", f"services.{name}"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            env=service_env(infra, HTTP_PORT=str(port), MONGO_DB=f"{name}-{unique}",
                                            TOKEN_SECRET=DEV_TOKEN_SECRET, TOKEN_SECRET_PREVIOUS=""))
    try:
        ready = None
        for _ in range(120):
            if proc.poll() is not None:
                break
            ready = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/health/ready")
            if ready[0] == 200:
                break
            await asyncio.sleep(0.5)
        # generous: five services start at once on a shared machine (chat and cases load a model), and the
        # first AsyncAPI document is built on request (a CI run timed it out at 2 s under load)
        live = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/health/live", 30)
        spec = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/asyncapi.json", 30)
        metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics", 30)
    finally:
        out = await _terminate(proc)
    return {"ready": ready, "live": live, "spec": spec, "metrics": metrics, "exit": proc.returncode,
            "log": out.decode(errors="replace")}


async def test_every_service_starts_reports_ready_and_stops_cleanly(infrastructure, unique):
    results = await asyncio.gather(*(_start_check_stop(name, infrastructure, unique) for name in SERVICES))
    for name, r in zip(SERVICES, results, strict=True):
        assert r["ready"] and r["ready"][0] == 200, f"{name} not ready:\n{r['log'][-3000:]}"
        assert json.loads(r["ready"][1]) == {"status": "ok", "started": "ok", "kafka": "ok", "mongodb": "ok"}
        assert r["live"][0] == 200
        assert json.loads(r["spec"][1])["info"]["title"] == f"{name} service"
        frozen = re.search(r"^python_gc_frozen_objects (\S+)$", r["metrics"][1].decode(), re.M)
        assert frozen and float(frozen.group(1)) > 10_000, f"{name}: what the start built is not frozen"
        assert r["exit"] == 0, f"{name} exit {r['exit']}:\n{r['log'][-3000:]}"
        assert "service stopped" in r["log"]
        # started on the public default TOKEN_SECRET (whatever the environment has): the gateway says so, nobody else
        assert ("insecure token secret" in r["log"]) == (name == "gateway"), f"{name}:\n{r['log'][-3000:]}"


async def test_a_service_started_before_kafka_and_mongodb_waits_not_ready_then_connects(unique, tmp_path):
    """Started while neither is reachable, the process stays up, answers live and not-ready, and once both
    come up it connects by itself and reports ready (no restart); then it stops cleanly."""
    kafka, mongo = LocalKafka(tmp_path / "kafka", free_port()), LocalMongo(tmp_path / "mongo", free_port())
    port = free_port()
    env = service_env(Infrastructure(mongo.url, kafka.bootstrap_servers, "local"), HTTP_PORT=str(port),
                      MONGO_DB=f"routing-late-{unique}")
    proc = subprocess.Popen([sys.executable, "-m", "services.routing"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env)
    try:
        live = await eventually(lambda: asyncio.to_thread(_get_if, f"http://127.0.0.1:{port}/health/live", 200),
                                timeout_s=60)
        assert live
        status, body = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/health/ready")
        assert status == 503 and json.loads(body)["started"] == "connecting"

        await asyncio.gather(asyncio.to_thread(kafka.start), asyncio.to_thread(mongo.start))
        await ensure_topics(kafka.bootstrap_servers, TOPICS)
        await eventually(lambda: asyncio.to_thread(_get_if, f"http://127.0.0.1:{port}/health/ready", 200),
                         timeout_s=90, interval_s=0.5)
        assert proc.poll() is None, "the service exited instead of waiting"
    finally:
        out = await _terminate(proc)
        await asyncio.gather(asyncio.to_thread(kafka.stop), asyncio.to_thread(mongo.stop))
    assert proc.returncode == 0, out.decode(errors="replace")[-3000:]
    assert "not connected yet" in out.decode(errors="replace")


async def _terminate(proc: subprocess.Popen[bytes]) -> bytes:
    """SIGTERM, as an orchestrator stops a service; SIGKILL after 30 s. Returns its output."""
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = await asyncio.to_thread(proc.communicate, timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def _get_if(url: str, status: int) -> bool:
    return _get(url)[0] == status
