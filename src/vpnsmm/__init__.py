"""vpnsmm: sell VPN subscriptions and SMM services, with every unit of money in a double-entry ledger.

Stable import surfaces (pinned by tests/unit/test_public_api.py):

* ``vpnsmm`` -- :func:`open` (an in-process application), :class:`App`, :class:`Settings`, :func:`load_settings`;
* ``vpnsmm.domain`` -- the pure model (Money, users, ledger, invoices, VPN and SMM values);
* ``vpnsmm.application`` -- the use cases and the ports adapters implement;
* ``vpnsmm.testing`` -- Hypothesis strategies and in-memory fakes for your own tests (extra ``testing``).

Everything else is internal and may change without notice. Importing ``vpnsmm`` is cheap: the application
is loaded on first use of :func:`open` or :class:`App`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["App", "ConfigError", "Settings", "__version__", "load_settings", "open"]

if TYPE_CHECKING:  # pragma: no cover
    from vpnsmm.config import ConfigError, Settings, load_settings
    from vpnsmm.entrypoints.library import App, open


def __getattr__(name: str) -> Any:
    # Lazy, so ``import vpnsmm.domain`` does not drag in the web framework and the database drivers.
    if name in {"App", "open"}:
        from vpnsmm.entrypoints import library

        return getattr(library, name)
    if name in {"ConfigError", "Settings", "load_settings"}:
        from vpnsmm import config

        return getattr(config, name)
    raise AttributeError(f"module 'vpnsmm' has no attribute {name!r}")
