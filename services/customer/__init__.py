"""The customer service: Customer profiles and client lists (its features arrive with their own issues; today it starts, connects and reports health)."""
