"""What the whole-system benchmarks share: the system started for one run, requests timed one at a time with
the client's clock, and the table of figures against a baseline measured in the same run."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.broker_hop import pct
from shared.localstack.kafka import LocalKafka
from shared.localstack.processes import LocalMongo, free_port
from shared.testing.system import System

# Cheap password hashing for the benchmark's sign-ins, and the gateway's request limits (services/gateway/
# limits.py) out of reach: a benchmark's one client sends more per token, and starts more chats from its one
# address, than a person would; the limiter still runs on every request. Nothing else differs from a user's run.
SERVICE_ENV = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8192", "RATE_LIMIT_PER_S": "1000000",
               "RATE_LIMIT_BURST": "1000000", "CHAT_STARTS_PER_MINUTE": "1000000"}


def run_on_system(prefix: str, run: Callable[[System, argparse.Namespace], Awaitable[None]],
                  args: argparse.Namespace, *, service_env: dict[str, str] | None = None) -> None:
    """Start the whole system (mongod, Kafka, every service) in a fresh folder, run, stop, clean up.
    `service_env`: the services' environment (default SERVICE_ENV)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    system = System(root, service_env=dict(SERVICE_ENV if service_env is None else service_env))
    try:
        started = time.monotonic()
        system.start()
        print(f"system started in {time.monotonic() - started:.1f} s (fresh broker and database in {root})",
              flush=True)
        asyncio.run(run(system, args))
    finally:
        system.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def local_infrastructure(prefix: str) -> Iterator[tuple[LocalMongo, LocalKafka]]:
    """A fresh mongod (single-node replica set) and Kafka broker in a temporary folder, for the benchmarks that
    start their services themselves; stopped and removed after."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    mongo, kafka = LocalMongo(root / "mongo", free_port()), LocalKafka(root / "kafka", free_port())
    try:
        mongo.start()
        kafka.start()
        yield mongo, kafka
    finally:
        kafka.stop()
        mongo.stop()
        shutil.rmtree(root, ignore_errors=True)


async def timed(samples: int, request: Callable[[int], Awaitable[Any]]) -> list[float]:
    """Seconds each of `samples` requests took, one after the other."""
    took = []
    for n in range(samples):
        t0 = time.perf_counter()
        await request(n)
        took.append(time.perf_counter() - t0)
    return took


BASELINE = "baseline: indexed find_one (client -> mongod)"


async def measure(baseline: Callable[[int], Awaitable[Any]], checks: dict[str, Callable[[int], Awaitable[Any]]],
                  requests: int) -> dict[str, list[float]]:
    """Warm every path, then time `requests` of the baseline and of each check, printing each as it ends."""
    await timed(50, baseline)
    for request in checks.values():
        await timed(20, request)
    results = {BASELINE: await timed(requests, baseline)}
    for name, request in checks.items():
        results[name] = await timed(requests, request)
        print(f"  {name}: p50 {pct(results[name], 50) * 1000:.1f} ms, p99 {pct(results[name], 99) * 1000:.1f} ms",
              flush=True)
    return results


def print_table(results: dict[str, list[float]], baseline: str, *, target_s: float, requests: int) -> None:
    """p50, p99 and p99 over the baseline's p99 for each request kind, and whether its p99 meets the target."""
    base = results[baseline]
    print(f"\n{requests} requests each, one at a time, client clock{'':8s}{'p50':>10s}{'p99':>10s}{'p99/base':>10s}"
          f"  target")
    for name, took in results.items():
        p50, p99 = pct(took, 50), pct(took, 99)
        mark = "" if name == baseline else (
            "  met" if p99 <= target_s else f"  NOT met (p99 <= {target_s * 1000:.0f} ms)")
        print(f"{name:52s}{p50 * 1000:8.1f}ms{p99 * 1000:8.1f}ms{p99 / pct(base, 99):9.1f}x{mark}")
    print(f"(baseline p50 {pct(base, 50) * 1000:.2f} ms)")
