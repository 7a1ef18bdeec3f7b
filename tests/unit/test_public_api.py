"""The public names change only on purpose: edit these lists together with the code and the CHANGELOG."""

from __future__ import annotations

import subprocess
import sys

import vpnsmm
import vpnsmm.application
import vpnsmm.domain

ROOT = ["App", "ConfigError", "Settings", "__version__", "load_settings", "open"]
DOMAIN = [
    "AccountPurpose", "ApiKeyInfo", "AuthenticationError", "ConflictError", "Currency", "CurrencyMismatchError",
    "Entry", "ExchangeRate", "Gateway", "InsufficientFundsError", "InvalidTransitionError", "Invoice",
    "InvoicePurpose", "InvoiceStatus", "LedgerAccount", "Money", "NotFoundError", "Payment", "PaymentStatus",
    "PermissionDeniedError", "RateLimitedError", "Role", "Rounding", "Transfer", "TransferKind", "TransferRequest",
    "UpstreamError", "UpstreamRejectedError", "UpstreamUnavailableError", "User", "UserStatus", "ValidationError",
    "VpnsmmError",
]
APPLICATION = [
    "Clock", "ConfirmPayment", "CreateInvoice", "FulfilInvoice", "Fulfiller", "GatewaySet", "Ledger", "Login",
    "NewInvoice", "PayInvoice", "PaymentGateway", "Principal", "RegisterUser", "RegisterUserCommand",
    "ReviewCardPayment", "SmmProvider", "UnitOfWork", "UnitOfWorkFactory", "VpnPanel", "Wallets", "WebhookVerifier",
]


def test_public_names_are_pinned() -> None:
    assert sorted(vpnsmm.__all__) == sorted(ROOT)
    assert sorted(vpnsmm.domain.__all__) == sorted(DOMAIN)
    assert sorted(vpnsmm.application.__all__) == sorted(APPLICATION)


def test_every_public_name_resolves() -> None:
    for module, names in ((vpnsmm, ROOT), (vpnsmm.domain, DOMAIN), (vpnsmm.application, APPLICATION)):
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
