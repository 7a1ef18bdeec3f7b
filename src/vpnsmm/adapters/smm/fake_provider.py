"""FakeSmmProvider: the SmmProvider port straight over a SimulatedPanel, with no HTTP in between.

It follows the same rules as the simulated Perfect Panel server (the same SimulatedPanel does the
work) and returns what PerfectPanelProvider would return for the same panel state, rounding
included: the contract suite runs both against identical scenarios.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from vpnsmm.adapters.smm.perfect_panel import date_or_none
from vpnsmm.adapters.smm.simulated_panel import SCALE, SimRejected, SimulatedPanel, SimUnavailable
from vpnsmm.application.ports.smm_provider import (
    MAX_IDS_PER_REQUEST,
    AddOrder,
    CancelAccepted,
    ProviderError,
    ProviderErrorKind,
    ProviderOrderStatus,
    ProviderOutcomeUnknownError,
    ProviderRefill,
    ProviderRejectedError,
    ProviderService,
    chunked,
)
from vpnsmm.domain.errors import UpstreamUnavailableError, ValidationError
from vpnsmm.domain.money import Currency, Money, Rounding
from vpnsmm.domain.smm import ExactAmount, normalise_refill_status, normalise_status

T = TypeVar("T")


class FakeSmmProvider:
    """In-memory SmmProvider. ``panel`` defaults to a fresh demo SimulatedPanel; ``api_key`` to its key."""

    def __init__(self, panel: SimulatedPanel | None = None, *, api_key: str | None = None,
                 chunk_size: int = MAX_IDS_PER_REQUEST):
        self.panel = panel or SimulatedPanel()
        self._key = self.panel.api_key if api_key is None else api_key
        self._chunk = chunk_size

    def _guard(self, action: str, fn: Callable[[], T], *, outcome_matters: bool = False) -> T:
        try:
            self.panel.authenticate(self._key, action)
            return fn()
        except SimUnavailable:
            cls = ProviderOutcomeUnknownError if outcome_matters else UpstreamUnavailableError
            raise cls(f"provider answered HTTP 503 ({action})") from None
        except SimRejected as err:
            raise ProviderRejectedError(err.message) from None

    def _currency(self) -> Currency | None:
        try:
            return Currency.parse(self.panel.currency)
        except ValidationError:
            return None

    async def services(self) -> list[ProviderService]:
        entries = self._guard("services", self.panel.services)
        currency = self._currency() or Currency.USD
        result = []
        for entry in entries:
            rate = ExactAmount.parse(entry.rate, currency)
            result.append(ProviderService(
                service_id=str(entry.id), name=entry.name, type=entry.type, type_name=entry.type_name,
                category=entry.category, rate=rate.to_money(Rounding.UP), rate_exact=rate, min=entry.min,
                max=entry.max, refill=entry.refill, cancel=entry.cancel, dripfeed=bool(entry.dripfeed)))
        return result

    async def add(self, order: AddOrder) -> str:
        return str(self._guard("add", lambda: self.panel.add(order.form_fields()), outcome_matters=True))

    def _per_id(self, fn: Callable[[str], T], item_id: str) -> T | ProviderError:
        try:
            return fn(item_id)
        except SimRejected as err:
            return ProviderError.from_message(err.message)

    async def status(self, ids: Sequence[str]) -> dict[str, ProviderOrderStatus | ProviderError]:
        result: dict[str, ProviderOrderStatus | ProviderError] = {}
        for chunk in chunked(ids, self._chunk):
            self._guard("status", partial(self.panel.batch, "status", chunk))
            for order_id in chunk:
                result[order_id] = self._per_id(self._order_status, order_id)
        return result

    def _order_status(self, order_id: str) -> ProviderOrderStatus:
        order = self.panel.order(order_id)
        currency = self._currency()
        if order.subscription is not None:  # what PerfectPanelProvider reads from the §1.4 shape
            sub = order.subscription
            return ProviderOrderStatus(
                status=normalise_status(order.status_text), raw_status=order.status_text, currency=currency,
                child_ids=tuple(str(child) for child in sub.children), posts=len(sub.children),
                expiry=date_or_none(sub.expiry))
        exact = ExactAmount.of(order.charge, SCALE, currency) if currency is not None else None
        return ProviderOrderStatus(
            status=normalise_status(order.status_text), raw_status=order.status_text,
            charge=exact.to_money(Rounding.HALF_UP) if exact is not None else None, charge_exact=exact,
            start_count=order.start_count, remains=order.remains, currency=currency)

    async def refill(self, order_id: str) -> str:
        (only,) = chunked([order_id])[0]
        return str(self._guard("refill", lambda: self.panel.refill(only)))

    async def refill_status(self, refill_ids: Sequence[str]) -> dict[str, ProviderRefill | ProviderError]:
        result: dict[str, ProviderRefill | ProviderError] = {}
        for chunk in chunked(refill_ids, self._chunk):
            self._guard("refill_status", partial(self.panel.batch, "refill_status", chunk))
            for refill_id in chunk:
                result[refill_id] = self._per_id(self._refill, refill_id)
        return result

    def _refill(self, refill_id: str) -> ProviderRefill:
        text = self.panel.refill_record(refill_id).status.value
        return ProviderRefill(normalise_refill_status(text), text)

    async def cancel(self, ids: Sequence[str]) -> dict[str, CancelAccepted | ProviderError]:
        result: dict[str, CancelAccepted | ProviderError] = {}
        for chunk in chunked(ids, self._chunk):
            self._guard("cancel", partial(self.panel.batch, "cancel", chunk))
            for order_id in chunk:
                result[order_id] = self._per_id(self._cancel, order_id)
        return result

    def _cancel(self, order_id: str) -> CancelAccepted:
        self.panel.cancel(order_id)
        return CancelAccepted(order_id)

    async def balance(self) -> Money:
        units = self._guard("balance", lambda: self.panel.balance)
        currency = self._currency()
        if currency is None:
            raise ProviderRejectedError(f"unsupported provider currency {self.panel.currency}",
                                        kind=ProviderErrorKind.UNKNOWN)
        return ExactAmount.of(units, SCALE, currency).to_money(Rounding.DOWN)
