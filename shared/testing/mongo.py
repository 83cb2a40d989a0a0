"""Watching the commands a MongoDB client sends, for tests that count round trips (one insert for a group's
queued documents, one write command for a routing save)."""

from __future__ import annotations

from typing import Any

from pymongo import monitoring


class CommandLog(monitoring.CommandListener):
    """Every command a client sent, in order, as (command name, its target: a collection, when it names one).
    Pass it to AsyncMongoClient(event_listeners=[...])."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, event.command.get(event.command_name)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def named(self, *names: str) -> list[tuple[str, Any]]:
        """The commands of these names, in order."""
        return [(name, target) for name, target in self.sent if name in names]
