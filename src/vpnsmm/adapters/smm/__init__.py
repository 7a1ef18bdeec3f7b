"""SMM provider adapters: Perfect Panel API v2 client, a simulated panel (ASGI) and an in-memory fake."""

from vpnsmm.adapters.smm.fake_provider import FakeSmmProvider
from vpnsmm.adapters.smm.perfect_panel import PerfectPanelProvider
from vpnsmm.adapters.smm.simulated_panel import DEMO_CATALOGUE, CatalogueEntry, SimulatedPanel
from vpnsmm.adapters.smm.simulated_provider import create_app

__all__ = ["DEMO_CATALOGUE", "CatalogueEntry", "FakeSmmProvider", "PerfectPanelProvider", "SimulatedPanel",
           "create_app"]
