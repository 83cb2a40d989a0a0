"""Benchmark: one broker hop, produce (acks=all, idempotent) -> consume, with the services' client settings.

The routing benchmark measures the same hop beside its own load as its baseline; run alone, this script
compares producer lingers (the `KAFKA_LINGER_MS` setting) on a fresh local broker:

    .venv/bin/python -m benchmarks.broker_hop [--rate 200] [--duration-s 30] [--linger 0,1,2,5]

Figures, not a test: it prints p50/p99 per linger and the broker's resident memory and CPU."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.broker import ensure_topics, producer_config
from shared.contracts.catalogue import Topic
from shared.localstack.kafka import LocalKafka
from shared.localstack.processes import free_port
from shared.settings import ServiceSettings


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def process_usage(pid: int) -> tuple[float, float]:
    """(resident MiB, CPU seconds used so far) of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        rss_kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kib / 1024, (int(fields[11]) + int(fields[12])) / ticks


def descendants(pids: list[int]) -> dict[int, list[int]]:
    """Each process's living descendants (a service's side-work process: chat's sentiment model)."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, IndexError):
                parent_of[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    found: dict[int, list[int]] = {pid: [] for pid in pids}
    for pid in pids:
        frontier = [pid]
        while frontier:
            frontier = [child for child, parent in parent_of.items() if parent in frontier]
            found[pid] += frontier
    return found


async def broker_round_trip(bootstrap: str, rate: float, duration_s: float,
                            settings: ServiceSettings | None = None) -> list[float]:
    """Seconds from send to receipt for records produced at `rate` per second over `duration_s`."""
    settings = settings or ServiceSettings()
    topic = Topic(name=f"bench.hop.{os.getpid()}.{time.monotonic_ns()}", partitions=8, key="n", producer="bench",
                  consumers=(), description="")
    await ensure_topics(bootstrap, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_config(settings))
    consumer = AIOKafkaConsumer(topic.name, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await producer.start()
    await consumer.start()
    sent: dict[bytes, float] = {}
    took: list[float] = []

    async def receive() -> None:
        async for record in consumer:
            took.append(time.monotonic() - sent[record.value])

    receiver = asyncio.create_task(receive())
    # A new topic's partitions answer NOT_LEADER for their first ~100 ms even once metadata names a leader;
    # the services' topics exist long before they are used, so one record per partition warms them first.
    for partition in range(topic.partitions):
        sent[b"warm-%d" % partition] = time.monotonic()
        await producer.send(topic.name, b"warm-%d" % partition, partition=partition)
    while len(took) < topic.partitions:
        await asyncio.sleep(0.01)
    took.clear()
    start = time.monotonic()
    total = int(duration_s * rate)
    for n in range(total):
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        value = str(n).encode()
        sent[value] = time.monotonic()
        await producer.send(topic.name, value, key=value)
    deadline = time.monotonic() + 30
    while len(took) < total and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    receiver.cancel()
    await asyncio.gather(receiver, return_exceptions=True)
    await producer.stop()
    await consumer.stop()
    return took


async def compare(bootstrap: str, args: argparse.Namespace, kafka: LocalKafka | None) -> None:
    await broker_round_trip(bootstrap, args.rate, 3)  # warm-up: JIT, connections, group coordinator
    print(f"{'linger':>8s}{'records':>9s}{'p50':>10s}{'p99':>10s}{'max':>10s}   ({args.rate}/s for {args.duration_s}s)")
    for linger in args.linger:
        took = await broker_round_trip(bootstrap, args.rate, args.duration_s,
                                       ServiceSettings(kafka_linger_ms=linger))
        print(f"{linger:6d}ms{len(took):9d}{pct(took, 50) * 1e3:8.2f}ms{pct(took, 99) * 1e3:8.2f}ms"
              f"{max(took) * 1e3:8.2f}ms", flush=True)
    if kafka is not None and kafka.pid:
        rss, cpu0 = process_usage(kafka.pid)
        await asyncio.sleep(30)
        _, cpu1 = process_usage(kafka.pid)
        print(f"broker: resident {rss:.0f} MiB after the runs; idle CPU {100 * (cpu1 - cpu0) / 30:.1f}% of one core "
              f"(30 s with no clients)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="records per second")
    parser.add_argument("--duration-s", type=float, default=30.0)
    parser.add_argument("--linger", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2, 5])
    parser.add_argument("--kafka", help="an existing broker instead of a fresh local one")
    args = parser.parse_args()
    if args.kafka:
        asyncio.run(compare(args.kafka, args, None))
        return
    workdir = Path(tempfile.mkdtemp(prefix="omni-bench-hop-"))
    kafka = LocalKafka(workdir / "kafka", free_port())
    try:
        t0 = time.monotonic()
        kafka.start()
        print(f"broker started in {time.monotonic() - t0:.1f}s (cached jars)")
        asyncio.run(compare(kafka.bootstrap_servers, args, kafka))
    finally:
        kafka.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
