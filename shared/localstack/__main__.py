"""`python -m shared.localstack` (what `./dev run` calls): the whole system on this machine.

Starts mongod and Apache Kafka with their data in .local/data/ (kept between runs; `--reset` or
`./dev reset` wipes it) and logs in .local/logs/, creates the topics, starts the services of
shared/registry.py, waits until each reports ready, prints where the gateway listens, and on Ctrl-C
stops everything by PID, services first. If any child dies, the rest is stopped too."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from shared.broker import ensure_topics
from shared.contracts.catalogue import TOPICS
from shared.localstack.kafka import LocalKafka, kafka_version
from shared.localstack.processes import LocalMongo, ManagedProcess, wait_for_ready
from shared.registry import SERVICES as REGISTERED

# Name -> HTTP port, in start order: the public gateway after the services behind it (and, since the
# services stop in reverse order, before them). sorted() is stable: the rest keep the registry's order.
SERVICES = {s.name: s.http_port for s in sorted(REGISTERED, key=lambda s: s.public)}


def _say(text: str) -> None:
    print(f"[stack] {text}", flush=True)


def _kill_leftovers(pid_file: Path) -> None:
    """A supervisor killed with SIGKILL leaves children behind; stop them before starting again."""
    if not pid_file.exists():
        return
    for line in pid_file.read_text().split():
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
            os.killpg(int(line), signal.SIGTERM)
            _say(f"stopped leftover process group {line}")
    time.sleep(1)
    pid_file.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default=".local", type=Path, help="data in DIR/data, logs in DIR/logs")
    parser.add_argument("--mongo-port", type=int, default=int(os.environ.get("LOCAL_MONGO_PORT", 27017)))
    parser.add_argument("--kafka-port", type=int, default=int(os.environ.get("LOCAL_KAFKA_PORT", 9092)))
    parser.add_argument("--kafka-controller-port", type=int,
                        default=int(os.environ.get("LOCAL_KAFKA_CONTROLLER_PORT", 9093)))
    parser.add_argument("--port-offset", type=int, default=int(os.environ.get("LOCAL_PORT_OFFSET", 0)),
                        help="added to every service's HTTP port (a second stack beside the first)")
    parser.add_argument("--reset", action="store_true", help="wipe the kept data (MongoDB and Kafka) and stop")
    parser.add_argument("--no-demo", action="store_true", help="do not create the demo tenant")
    args = parser.parse_args()

    root: Path = args.dir.resolve()
    data_dir, logs, pid_file = root / "data", root / "logs", root / "stack.pids"
    root.mkdir(parents=True, exist_ok=True)
    _kill_leftovers(pid_file)
    if args.reset:
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
        _say(f"wiped {data_dir} and {logs}")
        return 0

    mongo = LocalMongo(data_dir / "mongo", args.mongo_port)
    kafka = LocalKafka(data_dir / "kafka", args.kafka_port, controller_port=args.kafka_controller_port)
    services: dict[str, ManagedProcess] = {}
    stop_requested = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    def record_pids() -> None:
        pids = [p.pid for p in (mongo.proc, kafka.proc, *services.values()) if p.pid]
        pid_file.write_text("\n".join(map(str, pids)))

    code = 0
    try:
        _say(f"mongod (replica set rs0) on 127.0.0.1:{args.mongo_port}, data in {mongo.data_dir}")
        mongo.start()
        record_pids()
        _say(f"Apache Kafka {kafka_version()} (KRaft, one node) on 127.0.0.1:{args.kafka_port}, "
             f"data in {kafka.data_dir}, log {kafka.log_file}")
        kafka.start()
        record_pids()
        created = asyncio.run(ensure_topics(kafka.bootstrap_servers, TOPICS))
        _say(f"topics ready ({len(TOPICS)}, created {len(created)})")
        common = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "MONGO_URL": mongo.url,
                  "LOG_JSON": os.environ.get("LOG_JSON", "true")}
        ports = {name: port + args.port_offset for name, port in SERVICES.items()}
        # Where each service's internal read API is, for the gateway (CHAT_URL, ...).
        common.update({f"{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in ports.items()})
        for name, port in ports.items():
            proc = ManagedProcess(name, [sys.executable, "-m", f"services.{name}"], logs / f"{name}.log",
                                  env={**common, "HTTP_PORT": str(port)})
            proc.start()
            services[name] = proc
            record_pids()
        for name, port in ports.items():
            wait_for_ready(port, services[name].alive, what=f"{name} (log {services[name].log_path})")
            _say(f"{name:9s} ready  http://127.0.0.1:{port}  (pid {services[name].pid}, log {services[name].log_path})")
        gateway_url = f"http://127.0.0.1:{ports['gateway']}"
        if not args.no_demo:
            demo = subprocess.run([sys.executable, "-m", "services.gateway.demo", "--url", gateway_url],
                                  env=common, capture_output=True, text=True, timeout=120)
            for line in (demo.stdout if demo.returncode == 0 else demo.stderr).strip().splitlines():
                _say(f"demo: {line}")
        _say(f"gateway listens on {gateway_url}  - Ctrl-C stops everything (README: a first conversation)")
        while not stop_requested:
            dead = [n for n, p in services.items() if not p.alive()]
            if dead or not mongo.proc.alive() or not kafka.proc.alive():
                _say(f"a process exited ({', '.join(dead) or 'infrastructure'}); stopping the rest")
                code = 1
                break
            time.sleep(0.5)
    except Exception as exc:
        _say(f"failed: {exc}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for name, proc in reversed(services.items()):
            rc = proc.stop()
            _say(f"{name} stopped (exit {rc})")
        kafka.stop()
        mongo.stop()
        _say("broker and mongod stopped")
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()
    return code


if __name__ == "__main__":
    sys.exit(main())
