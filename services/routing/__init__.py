"""The routing service: queues, presence, capacity, offers, RONA, transfer and conference (R1-R11)."""
