"""smm-spring operator endpoints: order stats/bulk/health, /api/v2/admin/* and the monitoring APIs.

"Kafka" in the document is our job queue (the jobs table): consumer groups are job queues, consumer lag is
the jobs due and not yet taken, errors are jobs that failed for good. Every figure is measured here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Response, get, post, put
from litestar.params import Parameter

from vpnsmm.application.identity import FindUser, Principal
from vpnsmm.application.operations import (
    CountUsers,
    ManageYoutubeAccounts,
    OperatorLog,
    ServiceCoefficients,
    SystemReport,
    SystemStatus,
)
from vpnsmm.application.smm import AdminOrders, OrderStatistics, SmmCatalogue, SmmOrders
from vpnsmm.config import Settings
from vpnsmm.domain.errors import NotFoundError, ValidationError, VpnsmmError
from vpnsmm.domain.identity import Role
from vpnsmm.domain.money import Money
from vpnsmm.domain.smm import OrderStatus
from vpnsmm.domain.smm_orders import OrderFilter, SmmOrder
from vpnsmm.domain.youtube_accounts import YoutubeAccountStatus
from vpnsmm.entrypoints.http.dialects.smm_spring import wire
from vpnsmm.entrypoints.http.dialects.smm_spring.routes import Page, PathId, Size, shop_currency
from vpnsmm.entrypoints.http.dialects.smm_spring.schemas import ActionIn, BulkIn, CoefficientIn, StatusIn

Days = Annotated[int, Parameter(ge=1, le=3660)]
Text = Annotated[str | None, Parameter(max_length=64)]


def _admin(principal: Principal) -> None:
    principal.require(Role.ADMIN)


# ------------------------------------------------------------------------------------------ order actions
async def _apply(action: str, order_id: int, admin: Principal, body: ActionIn | None, smm_admin_orders: AdminOrders,
                 smm_orders: SmmOrders) -> SmmOrder | None:
    """One documented order action on any order (audited by the use case). Raises the use case's errors."""
    name = action.strip().lower()
    reason = body.reason if body else ""
    if name == "cancel":
        return await smm_admin_orders.cancel_and_refund(admin.user_id, order_id, reason)
    if name == "complete":
        return await smm_admin_orders.complete(admin.user_id, order_id)
    if name in ("resume", "start"):
        return await smm_admin_orders.resume(admin.user_id, order_id)
    if name == "update_start_count":
        if body is None or body.new_start_count is None:
            raise ValidationError("newStartCount is required for update_start_count", field="newStartCount")
        return await smm_admin_orders.set_start_count(admin.user_id, order_id, body.new_start_count)
    if name == "refill":
        order = await smm_admin_orders.get(order_id)
        await smm_orders.refill(order.user_id, order_id)
        return order
    if name == "stop":  # holds an order not yet at its provider; 409 ORDER_AT_PROVIDER once it is there
        return await smm_admin_orders.stop(admin.user_id, order_id, body.reason if body and body.reason else "")
    raise ValidationError("action must be one of stop, resume, start, refill, cancel, update_start_count, complete",
                          field="action")


async def _bulk(data: BulkIn, admin: Principal, smm_admin_orders: AdminOrders,
                smm_orders: SmmOrders) -> tuple[int, int, list[dict[str, Any]]]:
    action = data.action.strip().lower()
    if action not in ("cancel", "complete", "resume", "start", "refill", "stop", "update_start_count"):
        raise ValidationError("action must be one of CANCEL, COMPLETE, RESUME, START, REFILL", field="action")
    body = ActionIn(action=action, reason=data.reason)
    succeeded, errors = 0, []
    for order_id in dict.fromkeys(data.order_ids):
        try:
            await _apply(action, order_id, admin, body, smm_admin_orders, smm_orders)
            succeeded += 1
        except VpnsmmError as exc:
            errors.append({"orderId": order_id, "error": exc.message, "reason": exc.code})
    return len(dict.fromkeys(data.order_ids)), succeeded, errors


@get("/api/v1/orders/stats")
async def order_stats(operator: Principal, smm_stats: OrderStatistics, settings: Settings,
                      days: Days = 30) -> dict[str, Any]:
    """Operators and admins. Counts by the document's status names; money in the shop currency (net of refunds)."""
    stats = await smm_stats(days=days)
    return wire.success(_stats_json(stats, settings), "Statistics retrieved successfully")


def _stats_json(stats: Any, settings: Settings) -> dict[str, Any]:
    currency = shop_currency(settings)
    by_status: dict[str, int] = defaultdict(int)
    for name, count in stats.by_status.items():
        by_status[wire.WIRE_STATUS[OrderStatus(name)]] += count
    charged = stats.charged.get(currency.value, Money.zero(currency))
    refunded = stats.refunded.get(currency.value, Money.zero(currency))
    revenue = charged - refunded
    average = Money(charged.amount // stats.orders if stats.orders else 0, currency)
    revenue_by_day = {day: m for day, m in stats.revenue_by_day if m.currency is currency}
    running = sum(stats.by_status.get(s.value, 0) for s in wire.RUNNING)
    return {"totalOrders": stats.orders, "activeOrders": running,
            "completedOrders": by_status.get("COMPLETED", 0), "cancelledOrders": by_status.get("CANCELLED", 0),
            "totalRevenue": wire.money(revenue), "averageOrderValue": wire.money(average),
            "ordersByStatus": dict(by_status),
            "dailyStats": [{"date": day, "orders": count,
                            "revenue": wire.money(revenue_by_day.get(day, Money.zero(currency)))}
                           for day, count in stats.orders_by_day]}


@post("/api/v1/orders/bulk", status_code=200)
async def orders_bulk(data: BulkIn, admin: Principal, smm_admin_orders: AdminOrders,
                      smm_orders: SmmOrders) -> dict[str, Any]:
    """Admins only. Each order on its own: one failing does not stop the others."""
    _admin(admin)
    processed, succeeded, errors = await _bulk(data, admin, smm_admin_orders, smm_orders)
    return wire.success({"processed": processed, "succeeded": succeeded, "failed": len(errors), "errors": errors},
                        "Bulk operation completed")


def _up(flag: bool | None) -> str:
    return "UNKNOWN" if flag is None else ("UP" if flag else "DOWN")


def _components(report: SystemReport) -> dict[str, str]:
    return {"database": _up(report.database.up), "kafka": _up(report.job_queue.up), "redis": _up(report.cache.up)}


@get("/api/v1/orders/health", security=[])
async def orders_health(system_status: SystemStatus) -> Response[Any]:
    """No authentication. ``kafka`` is our job queue; ``redis`` is UNKNOWN when none is configured. 503 if DOWN."""
    report = await system_status.report()
    body = {"data": {"status": "UP" if report.up else "DOWN", "healthy": report.up,
                     "components": _components(report)},
            "success": report.up, "message": "Service healthy" if report.up else "Service unhealthy",
            "timestamp": wire.now_iso()}
    return Response(body, status_code=200 if report.up else 503)


# ------------------------------------------------------------------------------------------ /api/v2/admin
@get("/api/v2/admin/dashboard")
async def dashboard(operator: Principal, count_users: CountUsers, smm_stats: OrderStatistics,
                    system_status: SystemStatus, settings: Settings) -> dict[str, Any]:
    users = await count_users()
    stats = await smm_stats(days=None)
    figures = _stats_json(stats, settings)
    today = datetime.now(UTC).date().isoformat()
    today_revenue = next((d["revenue"] for d in figures["dailyStats"] if d["date"] == today),
                         wire.money(Money.zero(shop_currency(settings))))
    report = await system_status.report()
    return {"totalUsers": users.total, "activeUsers": users.active, "totalOrders": figures["totalOrders"],
            "activeOrders": figures["activeOrders"], "totalRevenue": figures["totalRevenue"],
            "todayRevenue": today_revenue, "systemHealth": _components(report)}


async def _admin_rows(orders: Sequence[SmmOrder], find_user: FindUser, smm_catalogue: SmmCatalogue) -> list[Any]:
    names = {p.service.id: p.service.name for p in await smm_catalogue.services(active=None)}
    users: dict[int, str] = {}
    rows = []
    for o in orders:
        if o.user_id not in users:
            try:
                users[o.user_id] = (await find_user(o.user_id)).username
            except NotFoundError:
                users[o.user_id] = ""
        row = wire.order_json(o)
        rows.append({**row, "username": users[o.user_id], "service": names.get(o.service_id, ""),
                     "serviceId": o.service_id})
    return rows


@get("/api/v2/admin/orders")
async def admin_orders(operator: Principal, smm_orders: SmmOrders, find_user: FindUser, smm_catalogue: SmmCatalogue,
                       status: Text = None, username: Text = None, date_from: Annotated[
                           str | None, Parameter(query="dateFrom", max_length=32)] = None,
                       date_to: Annotated[str | None, Parameter(query="dateTo", max_length=32)] = None,
                       page: Page = 0, size: Size = 20) -> dict[str, Any]:
    """Every user's orders, newest first; ``dateTo`` is inclusive. An unknown username matches nothing."""
    size = wire.page_size(size)
    wanted = wire.statuses(status)
    since, before = wire.day_start(date_from, "dateFrom"), wire.day_start(date_to, "dateTo", next_day=True)
    user_id = None
    if username and username.strip():
        try:
            found = await find_user(username.strip())
        except NotFoundError:
            return wire.page_json([], 0, page, size)
        if found.username.casefold() != username.strip().casefold():  # FindUser also takes ids: not here
            return wire.page_json([], 0, page, size)
        user_id = found.id
    flt = OrderFilter(user_id=user_id, statuses=wanted, created_from=since, created_before=before)
    items, total = await smm_orders.search(flt, limit=size, offset=page * size)
    return wire.page_json(await _admin_rows(items, find_user, smm_catalogue), total, page, size)


@post("/api/v2/admin/orders/{order_id:int}/actions", status_code=200)
async def order_action(order_id: PathId, data: ActionIn, operator: Principal, smm_admin_orders: AdminOrders,
                       smm_orders: SmmOrders) -> dict[str, Any]:
    """stop (holds an order not yet at its provider; 409 ORDER_AT_PROVIDER once there), resume/start, refill,
    cancel (refunds what is held), update_start_count (newStartCount), complete. Unknown order: 404."""
    await _apply(data.action, order_id, operator, data, smm_admin_orders, smm_orders)
    return {"data": {"message": "Action completed successfully"}, "success": True, "timestamp": wire.now_iso()}


@post("/api/v2/admin/orders/bulk-actions", status_code=200)
async def bulk_actions(data: BulkIn, operator: Principal, smm_admin_orders: AdminOrders,
                       smm_orders: SmmOrders) -> dict[str, Any]:
    processed, succeeded, errors = await _bulk(data, operator, smm_admin_orders, smm_orders)
    return {"data": {"message": "Bulk action completed", "processed": processed, "succeeded": succeeded,
                     "failed": len(errors), "errors": errors}, "success": True, "timestamp": wire.now_iso()}


def _coefficient_json(c: Any, provider_names: dict[int, str] | None = None) -> dict[str, Any]:
    return {"serviceId": c.service.id, "serviceName": c.service.name, "coefficient": c.coefficient,
            "lastUpdated": wire.iso(c.updated_at), "rate": wire.money(c.service.rate),
            "providerRate": c.service.provider_rate}


@get("/api/v2/admin/conversion-coefficients")
async def coefficients(operator: Principal, service_coefficients: ServiceCoefficients) -> list[dict[str, Any]]:
    """Each service's price over its provider's rate (1 + markup)."""
    return [_coefficient_json(c) for c in await service_coefficients.all()]


@put("/api/v2/admin/conversion-coefficients/{service_id:int}", status_code=200)
async def set_coefficient(service_id: PathId, data: CoefficientIn, admin: Principal,
                          service_coefficients: ServiceCoefficients) -> dict[str, Any]:
    """Admins only. Reprices the service from its provider rate at once; 1-100, at most 4 decimals."""
    _admin(admin)
    raw = data.coefficient
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValidationError("coefficient must be a decimal like \"1.5\"", field="coefficient")
    text = wire.amount_text(raw, "coefficient")
    return _coefficient_json(await service_coefficients.set(service_id, text, actor_id=admin.user_id,
                                                            reason=data.reason))


@get("/api/v2/admin/youtube-accounts")
async def youtube_accounts(operator: Principal, manage_youtube_accounts: ManageYoutubeAccounts, page: Page = 0,
                           size: Size = 20) -> dict[str, Any]:
    size = wire.page_size(size)
    items, total = await manage_youtube_accounts.page(limit=size, offset=page * size)
    return wire.page_json([{"id": a.id, "email": a.email, "status": a.status.value, "dailyLimit": a.daily_limit,
                            "dailyUsed": a.daily_used, "totalProcessed": a.total_processed,
                            "lastUsed": wire.iso(a.last_used_at)} for a in items], total, page, size)


@post("/api/v2/admin/youtube-accounts/{account_id:int}/reset-daily-limit", status_code=204)
async def reset_daily_limit(account_id: PathId, admin: Principal,
                            manage_youtube_accounts: ManageYoutubeAccounts) -> None:
    _admin(admin)
    await manage_youtube_accounts.reset_daily_limit(account_id, actor_id=admin.user_id)


@put("/api/v2/admin/youtube-accounts/{account_id:int}/status", status_code=204)
async def youtube_status(account_id: PathId, data: StatusIn, admin: Principal,
                         manage_youtube_accounts: ManageYoutubeAccounts) -> None:
    _admin(admin)
    await manage_youtube_accounts.set_status(account_id, YoutubeAccountStatus.parse(data.status),
                                             actor_id=admin.user_id)


@get("/api/v2/admin/system/health")
async def system_health(operator: Principal, system_status: SystemStatus) -> Response[Any]:
    report = await system_status.report()
    pool = report.pool
    lag = sum(q.due for q in report.queues)
    cache = report.cache_figures
    redis_details: dict[str, Any] = {"configured": report.cache.up is not None}
    if cache is not None:
        lookups = cache.hits + cache.misses
        redis_details.update(usedMemory=cache.used_memory_human or f"{cache.used_memory_bytes}B",
                             hitRate=f"{round(100 * cache.hits / lookups)}%" if lookups else None,
                             keyspaceHits=cache.hits, keyspaceMisses=cache.misses)
    if report.cache.error:
        redis_details["error"] = report.cache.error
    body = {"status": "UP" if report.up else "DOWN", "components": {
        "database": {"status": _up(report.database.up), "details": {
            "activeConnections": pool.checked_out, "maxConnections": pool.max_connections, "backend": pool.backend,
            **({"error": report.database.error} if report.database.error else {})}},
        "kafka": {"status": _up(report.job_queue.up), "details": {
            "consumerLag": lag, "topics": len(report.queues), "implementation": "job queue (jobs table)"}},
        "redis": {"status": _up(report.cache.up), "details": redis_details}}}
    return Response(body, status_code=200 if report.up else 503)


def _wire_action(action: str) -> str:
    """``smm_order.cancel`` -> ``ORDER_CANCEL`` (our audit actions in the document's vocabulary)."""
    name = action.removeprefix("smm_")
    return name.replace(".", "_").replace("-", "_").upper()


def _target(target: str) -> tuple[str, int | str | None]:
    kind, _, ident = target.partition(":")
    kind = kind.removeprefix("smm_").upper() or "SYSTEM"
    return kind, int(ident) if ident.isdigit() else (ident or None)


@get("/api/v2/admin/logs/operator")
async def operator_logs(operator: Principal, operator_log: OperatorLog,
                        operator_username: Annotated[str | None, Parameter(query="operatorUsername",
                                                                           max_length=64)] = None,
                        action: Text = None,
                        date_from: Annotated[str | None, Parameter(query="dateFrom", max_length=32)] = None,
                        date_to: Annotated[str | None, Parameter(query="dateTo", max_length=32)] = None,
                        page: Page = 0, size: Size = 20) -> dict[str, Any]:
    """Our audit log (entries made by people). ``action`` takes the document's names (ORDER_CANCEL)."""
    size = wire.page_size(size)
    actions = None
    if action and action.strip():
        wanted = action.strip().upper()
        actions = [a for a in _KNOWN_ACTIONS if _wire_action(a) == wanted] or [action.strip()]
    entries, total = await operator_log.search(
        operator_username=operator_username, actions=actions, since=wire.day_start(date_from, "dateFrom"),
        before=wire.day_start(date_to, "dateTo", next_day=True), limit=size, offset=page * size)
    rows = []
    for e in entries:
        kind, ident = _target(e.record.target)
        details = e.record.details
        text = str(details.get("reason") or "") or json.dumps(details, sort_keys=True, default=str)[:1000]
        rows.append({"id": e.record.id, "operatorUsername": e.operator_username,
                     "action": _wire_action(e.record.action), "targetId": ident, "targetType": kind,
                     "details": text, "ipAddress": None,
                     "timestamp": wire.iso(e.record.at)})
    return wire.page_json(rows, total, page, size)


#: Audit actions the use cases write (so a document action name finds its stored form).
_KNOWN_ACTIONS = ("smm_order.cancel", "smm_order.complete", "smm_order.set_start_count", "smm_order.resume",
                  "smm_service.update", "smm_service.coefficient", "smm_provider.add", "smm_provider.update",
                  "smm_provider.sync", "smm_user_rate.set", "wallet.credit", "wallet.debit",
                  "youtube_account.add", "youtube_account.reset_daily_limit", "youtube_account.status")


# ------------------------------------------------------------------------------------------ monitoring
@get("/api/v1/kafka/consumer-groups")
async def consumer_groups(operator: Principal, system_status: SystemStatus) -> dict[str, Any]:
    """Job queues as consumer groups: members = workers holding a lease now, lag = jobs due and not taken."""
    return {"groups": [{"groupId": q.queue, "state": "STABLE" if q.workers or q.due == 0 else "EMPTY",
                        "members": q.workers, "lag": q.due, "queued": q.queued, "running": q.running,
                        "failed": q.failed} for q in await system_status.queues()]}


@get("/api/v1/kafka/errors")
async def queue_errors(operator: Principal, system_status: SystemStatus, days: Annotated[
        int, Parameter(ge=1, le=366)] = 7) -> dict[str, Any]:
    """Jobs that failed for good in the last ``days`` days, by task; the 20 most recent."""
    recent, total = await system_status.failures(days=days, limit=20)
    everything, _ = await system_status.failures(days=days, limit=10_000) if total > 20 else (recent, total)
    by_task: dict[str, int] = defaultdict(int)
    for job in everything:
        by_task[job.task] += 1
    return {"totalErrors": total, "errorsByType": dict(by_task),
            "recentErrors": [{"timestamp": wire.iso(j.at), "topic": j.queue, "error": (j.error.splitlines() or [
                "failed"])[0][:200], "message": f"job {j.job_id} ({j.task}): {j.error[:1000]}"} for j in recent]}


@get("/api/v1/monitoring/hibernate/stats")
async def hibernate_stats(operator: Principal, system_status: SystemStatus) -> dict[str, Any]:
    """This process since it started. We keep no second-level cache, so its hits and misses are 0."""
    pool = system_status.database()
    return {"secondLevelCacheHitCount": 0, "secondLevelCacheMissCount": 0, "queryExecutionCount": pool.statements,
            "entityLoadCount": pool.selects, "sessionOpenCount": pool.checkouts, "sessionCloseCount": pool.checkins,
            "activeConnections": pool.checked_out, "maxConnections": pool.max_connections}


@get("/api/v1/error-recovery/status")
async def error_recovery(operator: Principal, system_status: SystemStatus) -> dict[str, Any]:
    """dlqSize: jobs failed for good; processingErrors: jobs waiting to retry after an error; today (UTC):
    jobs that succeeded after a failed attempt, and jobs that failed for good."""
    o = await system_status.job_outcomes_today()
    return {"dlqSize": o.dead, "processingErrors": o.retrying, "recoveredToday": o.recovered_since,
            "failedToday": o.failed_since}


@get("/api/v1/offers/assignment/status")
async def offer_assignments(operator: Principal, system_status: SystemStatus) -> dict[str, Any]:
    """Orders assigned to upstream providers: waiting to be sent, at a provider, and today (UTC) completed or
    failed to submit."""
    p = await system_status.order_pipeline_today()
    return {"pendingAssignments": p.waiting, "activeAssignments": p.at_provider, "completedToday": p.completed_since,
            "failedToday": p.failed_since}


OPERATOR_ROUTES: list[Callable[..., Awaitable[Any]] | Any] = [
    order_stats, orders_bulk, orders_health, dashboard, admin_orders, order_action, bulk_actions, coefficients,
    set_coefficient, youtube_accounts, reset_daily_limit, youtube_status, system_health, operator_logs,
    consumer_groups, queue_errors, hibernate_stats, error_recovery, offer_assignments]
