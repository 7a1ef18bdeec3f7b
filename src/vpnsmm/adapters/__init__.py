"""Adapters: implementations of the application's ports (databases, panels, gateways, providers, fakes)."""
