"""Event buses: in-process fan-out, and Redis pub/sub for fan-out across processes and machines."""
