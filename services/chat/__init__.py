"""The chat service: Conversations and messages (its features arrive with their own issues; today it starts, connects and reports health)."""
