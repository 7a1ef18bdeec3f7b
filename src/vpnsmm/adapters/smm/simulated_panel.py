"""The state of a simulated Perfect Panel provider: catalogue, balance, orders, refills, cancels.

No HTTP here. :mod:`.simulated_provider` puts the Perfect Panel API v2 wire format in front of it and
:class:`.fake_provider.FakeSmmProvider` calls it directly, so both follow the same rules.

Money is kept like a real panel does: decimal amounts with 5 fractional digits (``"0.27819"``),
held as integers of 10**-5 major units. Orders move only when told to: :meth:`SimulatedPanel.advance`
(one order, exact target) or :meth:`SimulatedPanel.tick` (every open order one step, driven by a
seeded ``random.Random``, so a given seed always plays out the same way).

Rules where smm.md is silent (chosen here, and documented in docs/adapters/perfect-panel.md):

* a missing/blank ``link`` is ``Incorrect link``; any other missing or malformed parameter is
  ``Incorrect request``; runs/interval on a service without drip-feed is ``Incorrect request``;
* more than 100 ids in one ``orders``/``refills`` parameter is ``Incorrect request``;
* Partial refunds ``charge * remains / quantity`` to the balance and Canceled/Refunded refund the
  whole remaining charge; the order's reported ``charge`` drops by the same amount;
* cancel is accepted (``"cancel": 1``) for an open order of a cancel-enabled service and takes
  effect on the next :meth:`tick` (or :meth:`advance`); otherwise ``Order cannot be canceled``;
* refill needs a refill-enabled service and a Completed or Partial order, otherwise
  ``Order not eligible for refill.``;
* subscriptions cost nothing up front (real panels bill each post's child order). Each :meth:`tick` of
  an Active subscription (or :meth:`new_post`) adds one child order -- a Default-like order of a random
  quantity between the subscription's ``min`` and ``max``, charged at the service rate -- to its ``orders``
  until ``posts + old_posts`` are reached, then the subscription is Completed; without ``posts`` it runs
  until canceled. A running subscription reports ``Active``; its status is
  ``{"status", "expiry", "posts", "orders"}`` (smm.md §1.4); children progress like any order.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Final

from attrs import define, field, frozen

from vpnsmm.domain.money import Currency
from vpnsmm.domain.smm import (
    SUBSCRIPTION_DELAYS,
    ExactAmount,
    OrderStatus,
    QuantityRule,
    RefillStatus,
    ServiceType,
)

#: Fractional digits of every amount the simulated panel keeps and prints.
SCALE: Final = 5
MAX_IDS: Final = 100

INCORRECT_REQUEST: Final = "Incorrect request"
INVALID_KEY: Final = "Invalid API key"
INCORRECT_ORDER_ID: Final = "Incorrect order ID"
INCORRECT_SERVICE_ID: Final = "Incorrect service ID"
INCORRECT_LINK: Final = "Incorrect link"
NOT_ENOUGH_FUNDS: Final = "Not enough funds on balance"
REFILL_NOT_FOUND: Final = "Refill not found"
NOT_ELIGIBLE_FOR_REFILL: Final = "Order not eligible for refill."
CANNOT_CANCEL: Final = "Order cannot be canceled"
DUPLICATE_LINK: Final = "You have active order with this link. Please wait until order being completed."


class SimRejected(Exception):
    """The simulated provider answers ``{"error": message}``."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SimUnavailable(Exception):
    """The simulated provider is down (``panel.outage = True``): HTTP 503 with an HTML body."""


@frozen
class CatalogueEntry:
    """A service on the simulated panel. ``dripfeed=None`` omits the flag from the wire (like JAP)."""

    id: int
    name: str
    type_name: str
    category: str
    rate: str  # per 1000, decimal text exactly as the panel prints it
    min: int
    max: int
    refill: bool = False
    cancel: bool = False
    dripfeed: bool | None = None

    @property
    def type(self) -> ServiceType | None:
        return ServiceType.parse(self.type_name)


#: Demo services, one per common type, with a sub-cent rate and a missing dripfeed flag on purpose.
DEMO_CATALOGUE: Final = (
    CatalogueEntry(1, "Instagram Followers", "Default", "Instagram", "0.90", 50, 10000, refill=True,
                   cancel=True, dripfeed=True),
    CatalogueEntry(2, "Instagram Custom Comments", "Custom Comments", "Instagram", "8", 10, 1500, cancel=True),
    CatalogueEntry(3, "YouTube Views", "Default", "YouTube", "0.0125", 100, 1000000),
    CatalogueEntry(4, "Instagram Likes Package", "Package", "Instagram", "2.50", 1, 1, dripfeed=False),
    CatalogueEntry(5, "Custom Comments Package", "Custom Comments Package", "Instagram", "3.10", 1, 1),
    CatalogueEntry(6, "Mentions", "Mentions", "Instagram", "1.20", 100, 5000),
    CatalogueEntry(7, "Mentions with Hashtags", "Mentions with Hashtags", "Instagram", "1.50", 100, 5000),
    CatalogueEntry(8, "Mentions Custom List", "Mentions Custom List", "Instagram", "2", 1, 1000),
    CatalogueEntry(9, "Comment Likes", "Comment Likes", "Instagram", "4.00", 20, 2000, refill=True),
    CatalogueEntry(10, "Telegram Poll Votes", "Poll", "Telegram", "0.35", 100, 50000),
    CatalogueEntry(11, "Auto Likes Subscription", "Subscriptions", "Instagram", "0.60", 50, 5000),
    CatalogueEntry(12, "Website Traffic", "Web Traffic", "Traffic", "0.05", 100, 100000),
)


@define(eq=False)
class SimOrder:
    id: int
    service: CatalogueEntry
    link: str
    quantity: int  # units delivered in total (per-run quantity * runs for a drip-feed)
    charge: int  # 10**-5 major units still charged
    status: OrderStatus = OrderStatus.PENDING
    remains: int = 0
    start_count: int = 0
    cancel_requested: bool = False
    reported_as: str | None = None  # wire text override, to play clones that spell statuses oddly
    subscription: SimSubscription | None = None  # set on a Subscriptions order (a parent)

    @property
    def status_text(self) -> str:
        if self.reported_as:
            return self.reported_as
        if self.subscription is not None and self.status is OrderStatus.IN_PROGRESS:
            return "Active"
        return self.status.value


@define(eq=False)
class SimSubscription:
    """A subscription's terms and the child orders made so far. ``total`` None = unlimited new posts."""

    min: int
    max: int
    total: int | None
    expiry: str | None = None  # d/m/Y as given
    children: list[int] = field(factory=list)

    @property
    def full(self) -> bool:
        return self.total is not None and len(self.children) >= self.total


@define(eq=False)
class SimRefill:
    id: int
    order_id: int
    status: RefillStatus = RefillStatus.PENDING


_LINK = re.compile(r"^https?://\S+$")
_INT = re.compile(r"^\s*[+-]?\d{1,12}\s*$")


def format_units(units: int) -> str:
    """10**-5 units as the panel prints amounts: ``27819 -> "0.27819"``."""
    whole, frac = divmod(abs(units), 10**SCALE)
    return f"{'-' if units < 0 else ''}{whole}.{frac:0{SCALE}d}"


class SimulatedPanel:
    """A deterministic Perfect Panel provider. Not thread-safe; one event loop at a time.

    ``balance`` is decimal text in ``currency``. ``outage = True`` makes every call fail as unavailable.
    ``calls`` records ``(action, number_of_ids)`` for each batch call so tests can see chunking.
    """

    def __init__(self, *, api_key: str = "sim-key", balance: str = "100.00000", currency: str = "USD",
                 catalogue: Sequence[CatalogueEntry] = DEMO_CATALOGUE, seed: int = 0,
                 first_order_id: int = 1001, duplicate_link_guard: bool = True):
        self.api_key = api_key
        self.currency = currency
        self.balance = _units(balance)
        self.catalogue = {entry.id: entry for entry in catalogue}
        self.orders: dict[int, SimOrder] = {}
        self._by_link: dict[str, list[SimOrder]] = {}  # the duplicate-link guard looks up one link, not every order
        self.refills: dict[int, SimRefill] = {}
        self.calls: list[tuple[str, int]] = []
        self.outage = False
        self.duplicate_link_guard = duplicate_link_guard
        self._rng = random.Random(seed)
        self._next_order = first_order_id
        self._next_refill = 1

    # -- access -------------------------------------------------------------------------------
    def authenticate(self, key: str | None, action: str | None) -> None:
        """Raise SimUnavailable during an outage, SimRejected for a missing or wrong key/action."""
        if self.outage:
            raise SimUnavailable
        if not key or not action:
            raise SimRejected(INCORRECT_REQUEST)
        if key != self.api_key:
            raise SimRejected(INVALID_KEY)

    def services(self) -> list[CatalogueEntry]:
        return list(self.catalogue.values())

    def balance_text(self) -> str:
        return format_units(self.balance)

    # -- add ------------------------------------------------------------------------------------
    def add(self, params: Mapping[str, str]) -> int:
        """Place an order from ``action=add`` form parameters; returns the new order id.

        Charges the balance. Raises SimRejected with the panel's error text.
        """
        entry = self.catalogue.get(_int(params.get("service"), INCORRECT_SERVICE_ID))
        if entry is None:
            raise SimRejected(INCORRECT_SERVICE_ID)
        stype = entry.type
        if stype is None:  # a type the simulator cannot fulfil: behave like a disabled service
            raise SimRejected(INCORRECT_SERVICE_ID)
        present = {k for k, v in params.items() if v.strip()}
        for name in sorted(stype.required_fields):
            if name not in present:
                raise SimRejected(INCORRECT_LINK if name == "link" else INCORRECT_REQUEST)
        link = params.get("link", "").strip()
        if "link" in stype.required_fields and not _LINK.match(link):
            raise SimRejected(INCORRECT_LINK)
        runs = interval = None
        if "runs" in present or "interval" in present:
            if not (entry.dripfeed and stype.supports_dripfeed):
                raise SimRejected(INCORRECT_REQUEST)
            runs, interval = _int(params.get("runs")), _int(params.get("interval"))
            if runs <= 0 or interval < 0:
                raise SimRejected(INCORRECT_REQUEST)
        units = self._checked_units(entry, stype, params, runs)
        if self.duplicate_link_guard and link and any(
                o.link == link and o.service.id == entry.id and not o.status.is_terminal
                for o in self._by_link.get(link, ())):
            raise SimRejected(DUPLICATE_LINK)
        charge = 0 if units == 0 else _charge(entry.rate, units)
        if charge > self.balance:
            raise SimRejected(NOT_ENOUGH_FUNDS)
        self.balance -= charge
        order = SimOrder(self._next_order, entry, link or params.get("username", "").strip(),
                         quantity=units if stype.quantity_rule is not QuantityRule.FLAT else 1,
                         charge=charge)
        order.remains = order.quantity
        if stype.quantity_rule is QuantityRule.PER_POST:
            order.subscription = self._subscription_terms(params)
        self.orders[order.id] = order
        self._by_link.setdefault(order.link, []).append(order)
        self._next_order += 1
        return order.id

    def _checked_units(self, entry: CatalogueEntry, stype: ServiceType, params: Mapping[str, str],
                       runs: int | None) -> int:
        rule = stype.quantity_rule
        if rule is QuantityRule.FLAT:
            return 1000
        if rule is QuantityRule.PER_POST:
            low, high, delay = _int(params.get("min")), _int(params.get("max")), _int(params.get("delay"))
            if low <= 0 or high < low or delay not in SUBSCRIPTION_DELAYS:
                raise SimRejected(INCORRECT_REQUEST)
            self._check_bounds(entry, low)
            self._check_bounds(entry, high)
            return 0
        if rule is QuantityRule.GIVEN:
            count = _int(params.get("quantity"))
        else:
            source = "comments" if rule is QuantityRule.COMMENT_LINES else "usernames"
            count = len([line for line in params.get(source, "").splitlines() if line.strip()])
        self._check_bounds(entry, count)
        return count * (runs or 1)

    @staticmethod
    def _subscription_terms(params: Mapping[str, str]) -> SimSubscription:
        posts = _int(params["posts"]) if params.get("posts", "").strip() else None
        old_posts = _int(params["old_posts"]) if params.get("old_posts", "").strip() else 0
        if (posts is not None and posts < 0) or old_posts < 0:
            raise SimRejected(INCORRECT_REQUEST)
        return SimSubscription(min=_int(params.get("min")), max=_int(params.get("max")),
                               total=None if posts is None else posts + old_posts,
                               expiry=params.get("expiry", "").strip() or None)

    def new_post(self, order_id: int | str) -> SimOrder:
        """A subscription gets one more post: a child order (quantity between its min and max, charged at the
        service rate) is added to its ``orders``; the subscription becomes Completed once it has all its
        posts. Raises ValueError for an order that is not an open subscription."""
        parent = self.orders.get(int(order_id))
        if parent is None or parent.subscription is None or parent.status.is_terminal:
            raise ValueError(f"no open simulated subscription {order_id}")
        sub = parent.subscription
        if parent.status is OrderStatus.PENDING:
            parent.status = OrderStatus.IN_PROGRESS
        quantity = self._rng.randint(sub.min, sub.max)
        charge = _charge(parent.service.rate, quantity)
        self.balance -= charge  # a real panel bills each post as it comes (may run the balance short)
        child = SimOrder(self._next_order, parent.service, parent.link, quantity=quantity, charge=charge,
                         remains=quantity)
        self._next_order += 1
        self.orders[child.id] = child
        sub.children.append(child.id)
        if sub.full:
            self.advance(parent.id, OrderStatus.COMPLETED)
        return child

    @staticmethod
    def _check_bounds(entry: CatalogueEntry, count: int) -> None:
        if count < entry.min:
            raise SimRejected(f"Quantity less than minimal {entry.min}")
        if count > entry.max:
            raise SimRejected(f"Quantity more than maximum {entry.max}")

    # -- status ---------------------------------------------------------------------------------
    def order(self, order_id: str) -> SimOrder:
        """The order with this id; raises SimRejected("Incorrect order ID")."""
        found = self.orders.get(_int(order_id, INCORRECT_ORDER_ID))
        if found is None:
            raise SimRejected(INCORRECT_ORDER_ID)
        return found

    def batch(self, action: str, ids: Sequence[str]) -> None:
        """Record a batch call; raises SimRejected for an empty batch or more than MAX_IDS ids."""
        self.calls.append((action, len(ids)))
        if not ids or len(ids) > MAX_IDS:
            raise SimRejected(INCORRECT_REQUEST)

    # -- refill ---------------------------------------------------------------------------------
    def refill(self, order_id: str) -> int:
        """Open a refill for a Completed/Partial order of a refill-enabled service; returns its id."""
        order = self.order(order_id)
        if not order.service.refill or order.status not in (OrderStatus.COMPLETED, OrderStatus.PARTIAL):
            raise SimRejected(NOT_ELIGIBLE_FOR_REFILL)
        refill = SimRefill(self._next_refill, order.id)
        self.refills[refill.id] = refill
        self._next_refill += 1
        return refill.id

    def refill_record(self, refill_id: str) -> SimRefill:
        found = self.refills.get(_int(refill_id, REFILL_NOT_FOUND))
        if found is None:
            raise SimRejected(REFILL_NOT_FOUND)
        return found

    # -- cancel ---------------------------------------------------------------------------------
    def cancel(self, order_id: str) -> None:
        """Accept a cancel request; it takes effect on the next tick. Idempotent while pending."""
        order = self.order(order_id)
        if not order.service.cancel or order.status.is_terminal:
            raise SimRejected(CANNOT_CANCEL)
        order.cancel_requested = True

    # -- moving orders along (test and demo controls) -----------------------------------------
    def advance(self, order_id: int | str, to: OrderStatus | str, *, remains: int | None = None,
                report_as: str | None = None) -> SimOrder:
        """Move one order to ``to`` now, settling money like the panel does.

        ``remains`` is required for Partial (any int: negative plays an over-delivery). ``report_as``
        makes the wire show another spelling (``"Inprogress"``, ``"Cancelled"``) for that status.
        Raises ValueError for an unknown order, a terminal order or a missing Partial remains.
        """
        order = self.orders.get(int(order_id))
        if order is None:
            raise ValueError(f"no simulated order {order_id}")
        target = OrderStatus(to)
        if order.status.is_terminal:
            raise ValueError(f"order {order.id} is already {order.status.value}")
        if target is OrderStatus.PARTIAL:
            if remains is None:
                raise ValueError("Partial needs remains")
            self._settle(order, min(max(remains, 0), order.quantity))
            order.remains = remains
        elif target in (OrderStatus.CANCELED, OrderStatus.REFUNDED):
            self._settle(order, order.quantity)
        elif target is OrderStatus.COMPLETED:
            order.remains = 0
        elif remains is not None:
            order.remains = remains
        if target is not OrderStatus.PENDING and not order.start_count:
            order.start_count = self._rng.randint(100, 5000)
        order.status = target
        order.reported_as = report_as
        order.cancel_requested = False
        return order

    def advance_refill(self, refill_id: int | str, to: RefillStatus | str) -> SimRefill:
        refill = self.refills[int(refill_id)]
        refill.status = RefillStatus(to)
        return refill

    def tick(self) -> None:
        """Move every open order and refill one step (seeded, so reproducible).

        Requested cancels become Canceled; Pending starts; a running order delivers a quarter to a half
        of what remains, finishing Completed, or (1 in 8) stops as Partial; an Active subscription gets one
        post (:meth:`new_post`), a Paused one waits; children made in this tick move from the next one.
        Refills go Pending -> In progress -> Completed.
        """
        for order in list(self.orders.values()):
            if order.status.is_terminal:
                continue
            if order.cancel_requested:
                self.advance(order.id, OrderStatus.CANCELED)
            elif order.subscription is not None:
                if order.status is OrderStatus.PAUSED:
                    continue
                if order.status is OrderStatus.PENDING:
                    self.advance(order.id, OrderStatus.IN_PROGRESS)
                else:
                    self.new_post(order.id)
            elif order.status is OrderStatus.PENDING:
                self.advance(order.id, OrderStatus.IN_PROGRESS)
            elif self._rng.randrange(8) == 0 and order.remains > 0:
                self.advance(order.id, OrderStatus.PARTIAL, remains=order.remains)
            else:
                delivered = max(1, self._rng.randint(order.remains // 4, max(order.remains // 2, 1)))
                left = order.remains - delivered
                if left <= 0:
                    self.advance(order.id, OrderStatus.COMPLETED)
                else:
                    order.remains = left
        for refill in self.refills.values():
            if refill.status is RefillStatus.PENDING:
                refill.status = RefillStatus.IN_PROGRESS
            elif refill.status is RefillStatus.IN_PROGRESS:
                refill.status = RefillStatus.COMPLETED

    def _settle(self, order: SimOrder, undelivered: int) -> None:
        refund = order.charge * undelivered // order.quantity if order.quantity else order.charge
        order.charge -= refund
        self.balance += refund


def _units(text: str) -> int:
    """Decimal text -> 10**-5 units, exactly; more than 5 fractional digits is a programming error."""
    amount = ExactAmount.parse(text, Currency.USD)
    if amount.scale > SCALE:
        raise ValueError(f"{text} has more than {SCALE} decimals")
    return amount.units * int(10 ** (SCALE - amount.scale))


def _charge(rate: str, units: int) -> int:
    """``rate * units / 1000`` in 10**-5 units, rounded up (the panel never undercharges)."""
    exact = ExactAmount.parse(rate, Currency.USD)
    numerator: int = exact.units * units * 10**SCALE
    denominator: int = 1000 * 10**exact.scale
    return -(-numerator // denominator)


def _int(raw: str | None, error: str = INCORRECT_REQUEST) -> int:
    if raw is None or not _INT.match(raw):
        raise SimRejected(error)
    return int(raw)
