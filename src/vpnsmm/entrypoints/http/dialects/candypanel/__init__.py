"""The ``candypanel`` dialect: CandyPanel's unified API (candypanel-api.md) at its own paths.

See docs/dialects/candypanel.md for the mapping of every endpoint onto vpnsmm's use cases.
"""

from __future__ import annotations

from vpnsmm.entrypoints.http.dialects import Dialect
from vpnsmm.entrypoints.http.dialects.candypanel.routes import EXCEPTION_HANDLERS, early_error_body, route_handlers

DIALECT = Dialect(name="candypanel", document="candypanel-api.md", default_prefix="/", build=route_handlers,
                  exception_handlers=EXCEPTION_HANDLERS, error_body=early_error_body,
                  description="CandyPanel: WireGuard clients, interfaces, settings and its Telegram bot's API")
