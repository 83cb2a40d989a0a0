"""Routing's adapters: a MongoDB repository per aggregate (queues, agents, work items) composed into the one the
handlers use (repository.py), and the queries the timers need (deadlines.py)."""
