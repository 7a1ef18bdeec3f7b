"""The pure model. Imports only the standard library and attrs (checked by import-linter)."""
