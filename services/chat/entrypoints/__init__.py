"""Chat's entrypoints: the Kafka subscribers and the internal read API."""
