"""Payment gateway adapters (Zarinpal v4, Cryptomus), their in-process fakes, and an in-memory gateway."""
