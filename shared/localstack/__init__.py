"""Real infrastructure on one machine without Docker: mongod 6.0.5 from a PyPI wheel (single-node replica
set) and Apache Kafka from Maven Central (one KRaft node on the machine's Java), plus the services."""
