"""The error tree shared by every layer.

Each error carries a stable machine ``code`` (``SCREAMING_SNAKE``) that every HTTP surface and the CLI
render in their own format; entrypoints map classes to status codes, never the reverse.

* VpnsmmError
  * ValidationError          -- input breaks a rule (``field`` names the culprit)
  * CurrencyMismatchError    -- two amounts in different currencies were combined
  * InvalidTransitionError   -- a state machine refused a move
  * InsufficientFundsError   -- a balance bound would be crossed
  * NotFoundError            -- no such thing *for this caller* (ownership is part of the lookup)
  * ConflictError            -- a uniqueness or idempotency clash
  * AuthenticationError      -- who you are could not be established
  * PermissionDeniedError    -- you are known but not allowed
  * RateLimitedError         -- too many requests in the window
  * UpstreamError            -- a panel, gateway or provider failed
    * UpstreamUnavailableError -- timed out / unreachable / 5xx: retry later
    * UpstreamRejectedError    -- it answered and said no: do not retry unchanged
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class VpnsmmError(Exception):
    """Root of every error vpnsmm raises on purpose."""

    code: str = "ERROR"

    def __init__(self, message: str, *, code: str | None = None, details: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = dict(details or {})


class ValidationError(VpnsmmError):
    """Input breaks a rule. ``field`` names the offending field when there is one."""

    code = "VALIDATION_ERROR"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None,
                 details: Mapping[str, Any] | None = None):
        super().__init__(message, code=code, details=details)
        self.field = field


class CurrencyMismatchError(ValidationError):
    code = "CURRENCY_MISMATCH"


class InvalidTransitionError(VpnsmmError):
    code = "INVALID_STATE"


class InsufficientFundsError(VpnsmmError):
    code = "INSUFFICIENT_BALANCE"


class NotFoundError(VpnsmmError):
    code = "NOT_FOUND"


class ConflictError(VpnsmmError):
    code = "CONFLICT"


class AuthenticationError(VpnsmmError):
    code = "UNAUTHORIZED"


class PermissionDeniedError(VpnsmmError):
    code = "FORBIDDEN"


class RateLimitedError(VpnsmmError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class UpstreamError(VpnsmmError):
    code = "UPSTREAM_ERROR"


class UpstreamUnavailableError(UpstreamError):
    code = "UPSTREAM_UNAVAILABLE"


class UpstreamRejectedError(UpstreamError):
    code = "UPSTREAM_REJECTED"
