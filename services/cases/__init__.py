"""The cases service: cases (K1), timelines and quick notes (K2), service requests (K3), knowledge base (K4)."""
