"""Ports: the Protocols adapters implement. Nothing here does I/O."""
