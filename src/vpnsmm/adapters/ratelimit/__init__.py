"""Fixed-window request counters for the HTTP rate limiter: in memory (one process) or Redis (shared)."""
