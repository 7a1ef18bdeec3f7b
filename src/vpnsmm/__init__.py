"""vpnsmm: sell VPN subscriptions and SMM services, with every unit of money in a double-entry ledger.

The public, stable import surfaces are:

* ``vpnsmm`` -- build and open the application (:func:`vpnsmm.open`, :class:`vpnsmm.Settings`);
* ``vpnsmm.domain`` -- the pure model (Money, users, ledger, ...);
* ``vpnsmm.application`` -- use cases and the ports adapters implement.

Everything else is internal and may change without notice.
"""

from __future__ import annotations

__version__ = "0.1.0"
