"""Outgoing webhook transport."""
