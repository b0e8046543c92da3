"""Playbooks: loading + validation (loader.py) into the model (model.py)."""
