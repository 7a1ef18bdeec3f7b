"""The public names change only on purpose: edit these lists together with the code and the CHANGELOG."""

from __future__ import annotations

import subprocess
import sys

import vpnsmm
import vpnsmm.application
import vpnsmm.domain
import vpnsmm.testing
import vpnsmm.testing.contracts

ROOT = ["App", "ConfigError", "Settings", "__version__", "load_settings", "open"]
DOMAIN = [
    "AccountPurpose", "AccountStatus", "AddOnKind", "ApiKeyInfo", "AuthenticationError", "ClientLimits", "ClientSpec",
    "ClientStatus", "ConflictError", "Currency", "CurrencyMismatchError", "Entry", "ExchangeRate", "Gateway",
    "InsufficientFundsError", "InvalidTransitionError", "Invoice", "InvoicePurpose", "InvoiceStatus",
    "LedgerAccount", "Money", "NotFoundError", "OrderStatus", "Payment", "PaymentOutcome", "PaymentStatus",
    "PermissionDeniedError", "Plan", "RateLimitedError", "Role", "Rounding", "Server", "ServerKind", "ServerStatus",
    "ServiceType", "Transfer", "TransferKind", "TransferRequest", "UpstreamError", "UpstreamRejectedError",
    "UpstreamUnavailableError", "UsageSnapshot", "User", "UserStatus", "ValidationError", "VpnAccount",
    "VpnsmmError",
]
APPLICATION = [
    "AddOrder", "AdminAccounts", "BuyAddOn", "BuyPlan", "BuyPlanCommand", "CancelAccepted", "Clock", "ConfirmPayment",
    "CreateInvoice", "FulfilInvoice", "Fulfiller", "GatewaySet", "Ledger", "Login", "ManagePlans", "ManageServers",
    "NewInvoice", "PanelCapabilities", "PayInvoice", "PaymentGateway", "PaymentStart", "PlanDraft", "Principal",
    "ProviderError", "ProviderErrorKind", "ProviderOrderStatus", "ProviderOutcomeUnknownError", "ProviderRefill",
    "ProviderRejectedError", "ProviderService", "ProvisionedClient", "Purchase", "RegisterUser",
    "RegisterUserCommand", "RenewAccount", "ReviewCardPayment", "RevokeAccount", "ServerDraft", "SmmProvider",
    "StartPayment", "SyncUsage", "UnitOfWork", "UnitOfWorkFactory", "VerificationResult", "VpnAccounts", "VpnPanel",
    "Wallets", "WebhookVerifier",
]
TESTING = [
    "FakeSmmProvider", "FakeVpnPanel", "FrozenClock", "InMemoryLedger", "InMemoryPaymentGateway",
    "InMemoryUnitOfWorkFactory", "add_orders", "amounts", "client_keys", "client_specs", "currencies",
    "exchange_rates", "invalid_client_keys", "invalid_marzban_user_payloads", "invalid_plan_changes",
    "invalid_usernames", "invalid_xui_client_payloads", "ledger_operations", "marzban_user_payloads", "money",
    "plan_drafts", "plans", "provider_services", "smm_orders", "smm_services", "transfer_requests", "usernames",
    "xui_client_payloads", "xui_envelopes",
]
CONTRACTS = [
    "PAYMENT_GATEWAY_CHECKS", "SMM_PROVIDER_CHECKS", "VPN_PANEL_CHECKS", "Check", "CheckResult", "ContractReport",
    "ContractViolation", "GatewayHarness", "HarnessFactory", "PanelHarness", "ProviderHarness",
    "check_payment_gateway", "check_smm_provider", "check_vpn_panel", "run_contract",
]


def test_public_names_are_pinned() -> None:
    assert sorted(vpnsmm.__all__) == sorted(ROOT)
    assert sorted(vpnsmm.domain.__all__) == sorted(DOMAIN)
    assert sorted(vpnsmm.application.__all__) == sorted(APPLICATION)
    assert sorted(vpnsmm.testing.__all__) == sorted(TESTING)
    assert sorted(vpnsmm.testing.contracts.__all__) == sorted(CONTRACTS)


def test_every_public_name_resolves() -> None:
    for module, names in ((vpnsmm, ROOT), (vpnsmm.domain, DOMAIN), (vpnsmm.application, APPLICATION),
                          (vpnsmm.testing, TESTING), (vpnsmm.testing.contracts, CONTRACTS)):
        for name in names:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"


def test_py_typed_is_shipped() -> None:
    from importlib.resources import files

    assert files("vpnsmm").joinpath("py.typed").is_file()


def test_importing_the_domain_does_not_load_frameworks() -> None:
    code = ("import sys, vpnsmm.domain; "
            "print(sorted(m for m in ('litestar', 'sqlalchemy', 'httpx', 'typer') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
