"""Use cases and the ports they need. Imports the domain and the standard library only.

The names below are the stable public surface (pinned by tests/unit/test_public_api.py): the ports you implement
to plug in your own adapter, and the use-case classes an :class:`vpnsmm.App` hands you.
"""

from vpnsmm.application.billing import (
    ConfirmPayment,
    CreateInvoice,
    FulfilInvoice,
    GatewaySet,
    NewInvoice,
    PayInvoice,
    ReviewCardPayment,
    Wallets,
)
from vpnsmm.application.identity import Login, Principal, RegisterUser, RegisterUserCommand
from vpnsmm.application.ports.fulfilment import Fulfiller
from vpnsmm.application.ports.ledger import Ledger
from vpnsmm.application.ports.payments import (
    PaymentGateway,
    PaymentStart,
    StartPayment,
    VerificationResult,
    WebhookVerifier,
)
from vpnsmm.application.ports.persistence import UnitOfWork, UnitOfWorkFactory
from vpnsmm.application.ports.smm_provider import (
    AddOrder,
    CancelAccepted,
    ProviderError,
    ProviderErrorKind,
    ProviderOrderStatus,
    ProviderOutcomeUnknownError,
    ProviderRefill,
    ProviderRejectedError,
    ProviderService,
    SmmProvider,
)
from vpnsmm.application.ports.system import Clock
from vpnsmm.application.ports.vpn_panel import PanelCapabilities, ProvisionedClient, VpnPanel
from vpnsmm.application.vpn import (
    AdminAccounts,
    BuyAddOn,
    BuyPlan,
    BuyPlanCommand,
    ManagePlans,
    ManageServers,
    PlanDraft,
    Purchase,
    RenewAccount,
    RevokeAccount,
    ServerDraft,
    SyncUsage,
    VpnAccounts,
)

__all__ = [
    "AddOrder", "AdminAccounts", "BuyAddOn", "BuyPlan", "BuyPlanCommand", "CancelAccepted", "Clock", "ConfirmPayment",
    "CreateInvoice", "FulfilInvoice", "Fulfiller", "GatewaySet", "Ledger", "Login", "ManagePlans", "ManageServers",
    "NewInvoice", "PanelCapabilities", "PayInvoice", "PaymentGateway", "PaymentStart", "PlanDraft", "Principal",
    "ProviderError", "ProviderErrorKind", "ProviderOrderStatus", "ProviderOutcomeUnknownError", "ProviderRefill",
    "ProviderRejectedError", "ProviderService", "ProvisionedClient", "Purchase", "RegisterUser",
    "RegisterUserCommand", "RenewAccount", "ReviewCardPayment", "RevokeAccount", "ServerDraft", "SmmProvider",
    "StartPayment", "SyncUsage", "UnitOfWork", "UnitOfWorkFactory", "VerificationResult", "VpnAccounts", "VpnPanel",
    "Wallets", "WebhookVerifier",
]
