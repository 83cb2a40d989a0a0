"""The cases service: Cases, timeline and knowledge (its features arrive with their own issues; today it starts, connects and reports health)."""
