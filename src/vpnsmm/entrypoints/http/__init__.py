"""The Litestar HTTP surface: the native API under /v1, health, metrics and OpenAPI."""
