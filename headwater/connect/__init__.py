"""Adapters to external systems, one small module each, behind tiny protocols."""
