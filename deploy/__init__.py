"""Deployment files, and `python -m deploy.generate` (run from the repository root), which writes those
that shared/registry.py determines. A package only so the generator runs with -m; not part of the image."""
