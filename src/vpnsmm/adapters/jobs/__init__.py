"""The job queue: transactional outboxes, job stores (SQL and in-memory) and the runner that drives them."""
