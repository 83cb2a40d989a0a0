"""Test fixtures for every service: the real mongod and Kafka-protocol broker, and Kafka read helpers."""
