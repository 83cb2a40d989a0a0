"""The chat service: conversations and messages (C1-C3, C7, C8); see README.md."""
