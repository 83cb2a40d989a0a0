"""The gateway service: HTTP and WebSocket edge for frontends (its features arrive with their own issues; today it starts, connects and reports health)."""
