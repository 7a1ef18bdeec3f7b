"""Fulfilment: what happens once an invoice is paid (provision a VPN account, submit an SMM order, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from vpnsmm.domain.billing import Invoice


class Fulfiller(Protocol):
    """Delivers what one kind of invoice bought. Registered per :class:`InvoicePurpose`.

    Must be idempotent: it may run again for the same invoice after a crash or a retry, and must then
    neither deliver twice nor fail because the first run succeeded. It runs outside any database
    transaction. Raise UpstreamUnavailableError to be retried later; any other VpnsmmError is permanent
    and refunds the invoice to the customer's wallet. The returned mapping is stored on the invoice item
    under ``"result"`` (e.g. the provisioned account id).
    """

    async def fulfil(self, invoice: Invoice) -> Mapping[str, Any] | None: ...
