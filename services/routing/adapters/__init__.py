"""Routing's adapters: MongoDB documents and repository."""
