"""Route handlers of the native API. Each parses, calls one use case and renders; no business rules."""
