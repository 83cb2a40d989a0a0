"""How work reaches routing: Kafka commands and the clock."""
