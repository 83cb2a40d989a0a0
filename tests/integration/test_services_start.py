"""Each service, as the real process users run, starts, connects, reports healthy and stops cleanly."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.request

import pytest

from shared.localstack.__main__ import SERVICES
from shared.localstack.processes import free_port
from shared.testing.fixtures import service_env

pytestmark = pytest.mark.integration


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError as exc:
        return 0, str(exc).encode()


async def _start_check_stop(name: str, infra, unique: str) -> dict:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", f"services.{name}"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            env=service_env(infra, HTTP_PORT=str(port), MONGO_DB=f"{name}-{unique}"))
    try:
        ready = None
        for _ in range(120):
            if proc.poll() is not None:
                break
            ready = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/health/ready")
            if ready[0] == 200:
                break
            await asyncio.sleep(0.5)
        live = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/health/live")
        spec = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/asyncapi.json")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = await asyncio.to_thread(proc.communicate, timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    return {"ready": ready, "live": live, "spec": spec, "exit": proc.returncode, "log": out.decode(errors="replace")}


async def test_every_service_starts_reports_ready_and_stops_cleanly(infrastructure, unique):
    results = await asyncio.gather(*(_start_check_stop(name, infrastructure, unique) for name in SERVICES))
    for name, r in zip(SERVICES, results, strict=True):
        assert r["ready"] and r["ready"][0] == 200, f"{name} not ready:\n{r['log'][-3000:]}"
        assert json.loads(r["ready"][1]) == {"status": "ok", "kafka": "ok", "mongodb": "ok"}
        assert r["live"][0] == 200
        assert json.loads(r["spec"][1])["info"]["title"] == f"{name} service"
        assert r["exit"] == 0, f"{name} exit {r['exit']}:\n{r['log'][-3000:]}"
        assert "service stopped" in r["log"]
