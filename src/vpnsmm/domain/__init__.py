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
from vpnsmm.domain.payments import PaymentOutcome
from vpnsmm.domain.smm import OrderStatus, ServiceType
from vpnsmm.domain.vpn import ClientLimits, ClientSpec, ClientStatus, ServerStatus, UsageSnapshot
from vpnsmm.domain.vpn_sales import AccountStatus, AddOnKind, Plan, Server, ServerKind, VpnAccount

__all__ = [
    "AccountPurpose", "AccountStatus", "AddOnKind", "ApiKeyInfo", "AuthenticationError", "ClientLimits", "ClientSpec",
    "ClientStatus", "ConflictError", "Currency", "CurrencyMismatchError", "Entry", "ExchangeRate", "Gateway",
    "InsufficientFundsError", "InvalidTransitionError", "Invoice", "InvoicePurpose", "InvoiceStatus",
    "LedgerAccount", "Money", "NotFoundError", "OrderStatus", "Payment", "PaymentOutcome", "PaymentStatus",
    "PermissionDeniedError", "Plan", "RateLimitedError", "Role", "Rounding", "Server", "ServerKind", "ServerStatus",
    "ServiceType", "Transfer", "TransferKind", "TransferRequest", "UpstreamError", "UpstreamRejectedError",
    "UpstreamUnavailableError", "UsageSnapshot", "User", "UserStatus", "ValidationError", "VpnAccount",
    "VpnsmmError",
]
