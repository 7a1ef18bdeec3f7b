"""/v1/smm/subscriptions: recurring orders (create, list, get, runs, pause, resume, cancel), owner-scoped."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from msgspec import Meta, Struct

from vpnsmm.application.identity import Principal
from vpnsmm.application.smm_subscriptions import NewSubscription, SmmSubscriptions
from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.smm_subscriptions import SmmSubscription, SubscriptionRun, SubscriptionStatus
from vpnsmm.entrypoints.http.schemas import In
from vpnsmm.entrypoints.http.smm_schemas import OrderOut

Limit = Annotated[int, Parameter(ge=1, le=100)]
Offset = Annotated[int, Parameter(ge=0, le=10**9)]


class SubscriptionIn(In):
    service_id: Annotated[int, Meta(ge=1, le=2**62)]
    link: Annotated[str, Meta(max_length=1000)]
    interval: Annotated[str, Meta(max_length=16, description="hourly, daily, weekly or monthly")]
    quantity: Annotated[int, Meta(ge=1, le=10**12)] | None = None
    dripfeed_runs: Annotated[int, Meta(ge=1, le=10**6, description="each run a drip-feed of this many runs")] \
        | None = None
    dripfeed_interval: Annotated[int, Meta(ge=1, le=10**6, description="minutes between drip-feed runs")] \
        | None = None

    def command(self, user_id: int) -> NewSubscription:
        return NewSubscription(user_id=user_id, service_id=self.service_id, link=self.link, quantity=self.quantity,
                               interval=self.interval, dripfeed_runs=self.dripfeed_runs,
                               dripfeed_interval=self.dripfeed_interval)


class SubscriptionOut(Struct):
    id: int
    service_id: int
    link: str
    quantity: int | None
    interval: str
    status: str
    next_run: int  # index of the next run (0 = the one placed at creation)
    next_run_at: datetime
    runs_placed: int
    last_order_id: int | None
    pause_code: str
    pause_reason: str
    created_at: datetime
    updated_at: datetime | None
    canceled_at: datetime | None
    dripfeed_runs: int | None
    dripfeed_interval: int | None

    @classmethod
    def of(cls, s: SmmSubscription) -> SubscriptionOut:
        return cls(id=s.id, service_id=s.service_id, link=s.link, quantity=s.quantity, interval=s.interval.value,
                   status=s.status.value, next_run=s.next_run, next_run_at=s.next_run_at, runs_placed=s.runs_placed,
                   last_order_id=s.last_order_id, pause_code=s.pause_code, pause_reason=s.pause_reason,
                   created_at=s.created_at, updated_at=s.updated_at, canceled_at=s.canceled_at,
                   dripfeed_runs=s.dripfeed_runs, dripfeed_interval=s.dripfeed_interval)


class SubscriptionCreatedOut(Struct):
    subscription: SubscriptionOut
    order: OrderOut  # the first run, placed at creation


class SubscriptionPage(Struct):
    items: list[SubscriptionOut]
    total: int
    limit: int
    offset: int


class RunOut(Struct):
    run: int
    order_id: int
    created_at: datetime

    @classmethod
    def of(cls, r: SubscriptionRun) -> RunOut:
        return cls(run=r.run, order_id=r.order_id, created_at=r.created_at)


def parse_subscription_status(raw: str | None) -> SubscriptionStatus | None:
    """``active|paused|canceled`` (``cancelled`` too) or None. Raises ValidationError."""
    if not raw:
        return None
    text = raw.strip().casefold().replace("cancelled", "canceled")
    try:
        return SubscriptionStatus(text)
    except ValueError:
        raise ValidationError(f"unknown status {raw!r}", field="status") from None


class SmmSubscriptionController(Controller):
    path = "/v1/smm/subscriptions"
    tags = ["smm"]

    @post("/", operation_id="SmmCreateSubscription", status_code=HTTP_201_CREATED)
    async def create(self, data: SubscriptionIn, principal: Principal,
                     smm_subscriptions: SmmSubscriptions) -> SubscriptionCreatedOut:
        """Order ``quantity`` of a service for ``link`` every ``interval``; the first run is placed (and
        charged) now. 402 INSUFFICIENT_BALANCE (nothing written), 404 SERVICE_NOT_FOUND, 400 INVALID_INTERVAL /
        INVALID_QUANTITY / INVALID_LINK / NOT_RECURRING."""
        started = await smm_subscriptions.create(data.command(principal.user_id))
        return SubscriptionCreatedOut(subscription=SubscriptionOut.of(started.subscription),
                                      order=OrderOut.of(started.first_order))

    @get("/", operation_id="SmmListSubscriptions")
    async def list_subscriptions(self, principal: Principal, smm_subscriptions: SmmSubscriptions,
                                 limit: Limit = 20, offset: Offset = 0,
                                 status: Annotated[str | None, Parameter(max_length=16)] = None) -> SubscriptionPage:
        items, total = await smm_subscriptions.search(principal.user_id, status=parse_subscription_status(status),
                                                      limit=limit, offset=offset)
        return SubscriptionPage(items=[SubscriptionOut.of(s) for s in items], total=total, limit=limit,
                                offset=offset)

    @get("/{subscription_id:int}", operation_id="SmmGetSubscription")
    async def get_subscription(self, subscription_id: int, principal: Principal,
                               smm_subscriptions: SmmSubscriptions) -> SubscriptionOut:
        return SubscriptionOut.of(await smm_subscriptions.get(principal.user_id, subscription_id))

    @get("/{subscription_id:int}/runs", operation_id="SmmSubscriptionRuns")
    async def runs(self, subscription_id: int, principal: Principal,
                   smm_subscriptions: SmmSubscriptions) -> list[RunOut]:
        """The runs placed so far, newest first, each with its order id."""
        return [RunOut.of(r) for r in await smm_subscriptions.runs(principal.user_id, subscription_id)]

    @post("/{subscription_id:int}/pause", operation_id="SmmPauseSubscription", status_code=HTTP_200_OK)
    async def pause(self, subscription_id: int, principal: Principal,
                    smm_subscriptions: SmmSubscriptions) -> SubscriptionOut:
        return SubscriptionOut.of(await smm_subscriptions.pause(principal.user_id, subscription_id))

    @post("/{subscription_id:int}/resume", operation_id="SmmResumeSubscription", status_code=HTTP_200_OK)
    async def resume(self, subscription_id: int, principal: Principal,
                     smm_subscriptions: SmmSubscriptions) -> SubscriptionOut:
        """Active again from the next slot after now (missed runs are not caught up)."""
        return SubscriptionOut.of(await smm_subscriptions.resume(principal.user_id, subscription_id))

    @delete("/{subscription_id:int}", operation_id="SmmCancelSubscription", status_code=HTTP_200_OK)
    async def cancel(self, subscription_id: int, principal: Principal,
                     smm_subscriptions: SmmSubscriptions) -> SubscriptionOut:
        """Cancel for good (idempotent); orders already placed are not affected."""
        return SubscriptionOut.of(await smm_subscriptions.cancel(principal.user_id, subscription_id))
