"""Entrypoints: thin HTTP (Litestar) and CLI (Typer) layers over the use cases."""
