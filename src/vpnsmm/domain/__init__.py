"""The pure model. Imports only the standard library and attrs (checked by import-linter).

The names below are the stable public surface (pinned by tests/unit/test_public_api.py); submodules hold more.
"""

from vpnsmm.domain.billing import Gateway, Invoice, InvoicePurpose, InvoiceStatus, Payment, PaymentStatus
from vpnsmm.domain.errors import (
    AuthenticationError,
    ConflictError,
    CurrencyMismatchError,
    InsufficientFundsError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UpstreamError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
    ValidationError,
    VpnsmmError,
)
from vpnsmm.domain.identity import ApiKeyInfo, Role, User, UserStatus
from vpnsmm.domain.ledger import (
    AccountPurpose,
    Entry,
    LedgerAccount,
    Transfer,
    TransferKind,
    TransferRequest,
)
from vpnsmm.domain.money import Currency, ExchangeRate, Money, Rounding

__all__ = [
    "AccountPurpose", "ApiKeyInfo", "AuthenticationError", "ConflictError", "Currency", "CurrencyMismatchError",
    "Entry", "ExchangeRate", "Gateway", "InsufficientFundsError", "InvalidTransitionError", "Invoice",
    "InvoicePurpose", "InvoiceStatus", "LedgerAccount", "Money", "NotFoundError", "Payment", "PaymentStatus",
    "PermissionDeniedError", "RateLimitedError", "Role", "Rounding", "Transfer", "TransferKind", "TransferRequest",
    "UpstreamError", "UpstreamRejectedError", "UpstreamUnavailableError", "User", "UserStatus", "ValidationError",
    "VpnsmmError",
]
