"""Packaged contract suites: the guarantees of each port, as async checks you run against your own adapter.

Each suite is a dict of named checks (``VPN_PANEL_CHECKS``, ``PAYMENT_GATEWAY_CHECKS``, ``SMM_PROVIDER_CHECKS``)
taking a harness (``PanelHarness``, ``GatewayHarness``, ``ProviderHarness``), plus a runner
(``check_vpn_panel``, ...) that runs all of them against fresh harnesses and returns a :class:`ContractReport`.
No pytest needed; with pytest, parametrize one test over a suite's dict. vpnsmm's own adapters pass the same
checks (tests/contract/).
"""

from vpnsmm.testing.contracts._base import (
    Check,
    CheckResult,
    ContractReport,
    ContractViolation,
    HarnessFactory,
    run_contract,
)
from vpnsmm.testing.contracts.payment_gateway import PAYMENT_GATEWAY_CHECKS, GatewayHarness, check_payment_gateway
from vpnsmm.testing.contracts.smm_provider import SMM_PROVIDER_CHECKS, ProviderHarness, check_smm_provider
from vpnsmm.testing.contracts.vpn_panel import VPN_PANEL_CHECKS, PanelHarness, check_vpn_panel

__all__ = [
    "PAYMENT_GATEWAY_CHECKS", "SMM_PROVIDER_CHECKS", "VPN_PANEL_CHECKS", "Check", "CheckResult", "ContractReport",
    "ContractViolation", "GatewayHarness", "HarnessFactory", "PanelHarness", "ProviderHarness",
    "check_payment_gateway", "check_smm_provider", "check_vpn_panel", "run_contract",
]
