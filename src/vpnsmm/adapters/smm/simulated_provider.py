"""A simulated SMM provider speaking Perfect Panel API v2 exactly as real panels do (smm.md §1).

``create_app(panel)`` returns a Litestar app answering ``POST /api/v2`` with a form body
(``application/x-www-form-urlencoded`` or multipart) and, for read-only actions, ``GET /api/v2?...``.
Every answer is HTTP 200 JSON, errors included (``{"error": "Invalid API key"}``), numbers are strings
(``"rate": "0.90"``, ``"charge": "0.27819"``) and ids are ints, as on justanotherpanel.com. During an
outage (``panel.outage = True``) it answers 503 with an HTML page, like a panel behind a proxy.

Run it for a demo or e2e test::

    python -m vpnsmm.adapters.smm.simulated_provider --port 8765 --key sim-key

Orders move with ``panel.advance(...)`` / ``panel.tick()`` (see :mod:`.simulated_panel`).
"""

import argparse
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, get, post

from vpnsmm.adapters.smm.simulated_panel import (
    INCORRECT_REQUEST,
    CatalogueEntry,
    SimOrder,
    SimRejected,
    SimulatedPanel,
    SimUnavailable,
    format_units,
)

API_PATH = "/api/v2"
_READ_ONLY = frozenset({"services", "status", "refill_status", "balance"})
_OUTAGE_PAGE = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"

Json = Any  # what msgspec.json.encode accepts: dicts, lists, str, int, bool


def service_json(entry: CatalogueEntry) -> dict[str, Json]:
    item: dict[str, Json] = {
        "service": entry.id, "name": entry.name, "type": entry.type_name, "category": entry.category,
        "rate": entry.rate, "min": str(entry.min), "max": str(entry.max),
        "refill": entry.refill, "cancel": entry.cancel,
    }
    if entry.dripfeed is not None:
        item["dripfeed"] = entry.dripfeed
    return item


def order_json(panel: SimulatedPanel, order: SimOrder) -> dict[str, Json]:
    if order.subscription is not None:  # smm.md §1.4: {"status":"Active","expiry":null,"posts":"1","orders":["22"]}
        sub = order.subscription
        return {"status": order.status_text, "expiry": sub.expiry, "posts": str(len(sub.children)),
                "orders": [str(child) for child in sub.children]}
    return {"charge": format_units(order.charge), "start_count": str(order.start_count),
            "status": order.status_text, "remains": str(order.remains), "currency": panel.currency}


def _ids(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _id_json(raw: str) -> Json:
    """Ids echo back as ints when they are numbers (as Perfect Panel does), else as sent."""
    return int(raw) if raw.isdigit() else raw


def _per_id(fn: Callable[[str], Json], raw_id: str) -> Json:
    try:
        return fn(raw_id)
    except SimRejected as err:
        return {"error": err.message}


def dispatch(panel: SimulatedPanel, params: Mapping[str, str], *, read_only: bool = False) -> Json:
    """The JSON body the panel answers to ``params`` (with HTTP 200). Raises SimUnavailable in an outage."""
    action = params.get("action", "").strip()
    try:
        panel.authenticate(params.get("key", "").strip(), action)
        if read_only and action not in _READ_ONLY:
            raise SimRejected(INCORRECT_REQUEST)
        return _act(panel, action, params)
    except SimRejected as err:
        return {"error": err.message}


def _act(panel: SimulatedPanel, action: str, params: Mapping[str, str]) -> Json:
    if action == "services":
        return [service_json(entry) for entry in panel.services()]
    if action == "balance":
        return {"balance": panel.balance_text(), "currency": panel.currency}
    if action == "add":
        return {"order": panel.add(params)}
    if action == "status":
        if "orders" in params:
            ids = _ids(params["orders"])
            panel.batch("status", ids)
            return {i: _per_id(lambda x: order_json(panel, panel.order(x)), i) for i in ids}
        panel.batch("status", [params.get("order", "")])
        return order_json(panel, panel.order(params.get("order", "")))
    if action == "refill":
        if "orders" in params:
            ids = _ids(params["orders"])
            panel.batch("refill", ids)
            return [{"order": _id_json(i), "refill": _per_id(panel.refill, i)} for i in ids]
        return {"refill": str(panel.refill(params.get("order", "")))}
    if action == "refill_status":
        if "refills" in params:
            ids = _ids(params["refills"])
            panel.batch("refill_status", ids)
            return [{"refill": _id_json(i),
                     "status": _per_id(lambda x: panel.refill_record(x).status.value, i)} for i in ids]
        panel.batch("refill_status", [params.get("refill", "")])
        return {"status": panel.refill_record(params.get("refill", "")).status.value}
    if action == "cancel" and "orders" in params:  # PP documents only the ``orders`` form
        ids = _ids(params["orders"])
        panel.batch("cancel", ids)

        def accept(order_id: str) -> Json:
            panel.cancel(order_id)
            return 1

        return [{"order": _id_json(i), "cancel": _per_id(accept, i)} for i in ids]
    raise SimRejected(INCORRECT_REQUEST)


def _encode(body: Json) -> Response[bytes]:
    return Response(content=msgspec.json.encode(body), status_code=200, media_type="application/json")


def _outage() -> Response[bytes]:
    return Response(content=_OUTAGE_PAGE, status_code=503, media_type="text/html")


def create_app(panel: SimulatedPanel, *, path: str = API_PATH) -> Litestar:
    """A Litestar app serving ``panel`` at ``path``. The app holds no state of its own."""

    @post(path, status_code=200)
    async def api_post(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            form = await request.form()
            params = {k: v for k, v in form.items() if isinstance(v, str)}
        except Exception:  # a body that is not a form: the panel sees no key and no action
            params = {}
        try:
            return _encode(dispatch(panel, params))
        except SimUnavailable:
            return _outage()

    @get(path)
    async def api_get(request: Request[Any, Any, Any]) -> Response[bytes]:
        params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        try:
            return _encode(dispatch(panel, params, read_only=True))
        except SimUnavailable:
            return _outage()

    return Litestar(route_handlers=[api_post, api_get], debug=False, openapi_config=None)


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - a demo entry point
    """Serve a fresh simulated panel on 127.0.0.1 (ticks every ``--tick`` seconds when > 0)."""
    import asyncio

    import uvicorn

    parser = argparse.ArgumentParser(description="Simulated Perfect Panel API v2 provider")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--key", default="sim-key")
    parser.add_argument("--balance", default="100.00000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tick", type=float, default=5.0)
    args = parser.parse_args(argv)
    panel = SimulatedPanel(api_key=args.key, balance=args.balance, seed=args.seed)
    app = create_app(panel)

    async def run() -> None:
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="info"))

        async def ticker() -> None:
            while args.tick > 0:
                await asyncio.sleep(args.tick)
                panel.tick()

        task = asyncio.create_task(ticker())
        try:
            await server.serve()
        finally:
            task.cancel()

    asyncio.run(run())


if __name__ == "__main__":  # pragma: no cover
    main()
