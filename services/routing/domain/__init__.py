"""Routing's pure domain: entities, events, assignment strategies and the Router service (no I/O)."""
