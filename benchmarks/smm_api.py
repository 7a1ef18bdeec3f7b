"""Perfect Panel API v2 throughput: ``action=add`` orders/s and multi-status (100 ids) calls/s, on PostgreSQL.

In the same run and against the same PostgreSQL server, it also measures a bare Litestar endpoint that parses the
same form and does one INSERT ... RETURNING (the floor for "an HTTP request that writes a row"), so the figures
can be read as a ratio. Both servers run as their own single-worker uvicorn processes on 127.0.0.1; the load
comes from this process with ``--clients`` concurrent keep-alive connections.

The vpnsmm path per ``add``: API key authentication, catalogue and user-rate lookups, validation and pricing,
one transaction that inserts the order and executes the ledger charge (locks, bounds, transfer, two entries),
then the submit to the provider (an in-process simulated panel, no network) and a second transaction recording
the provider order id.

Adds come either all from one user (every add contends on one wallet row: the worst case) or spread round-robin
over ``--users`` users (no wallet contention; all charges still credit the one revenue account), so row
contention and per-request cost can be told apart. The three loads are interleaved over ``--rounds`` rounds
and medians are reported, because run-to-run variance on a shared VM is large.

    python benchmarks/smm_api.py [--clients 16] [--seconds 10] [--rounds 3] [--users 50]

Needs PostgreSQL at VPNSMM_TEST_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test).
Prints a JSON summary; docs/performance.md records the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from litestar import Litestar, Request, Response, post
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("VPNSMM_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
DB = "vpnsmm_bench_smm"
URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB


# ------------------------------------------------------------------------------------------ bare endpoint
def bare_app() -> Litestar:
    """A Litestar app with POST /api/v2 that reads the form and INSERTs one row (no auth, no money)."""
    engine = create_async_engine(URL, pool_size=10, max_overflow=10)
    table = sa.table("bare_orders", sa.column("id"), sa.column("service"), sa.column("link"), sa.column("quantity"))

    @post("/api/v2", status_code=200)
    async def add(request: Request[Any, Any, Any]) -> Response[bytes]:
        form = await request.form()
        async with engine.begin() as conn:
            order_id = (await conn.execute(sa.insert(table).values(
                service=int(form["service"]), link=form["link"], quantity=int(form["quantity"]),
            ).returning(table.c.id))).scalar_one()
        return Response(content=json.dumps({"order": order_id}).encode(), media_type="application/json")

    return Litestar(route_handlers=[add], openapi_config=None, debug=False)


# ------------------------------------------------------------------------------------------ helpers
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _admin(statement: str) -> None:
    engine = create_async_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


async def _prepare_database() -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{DB}"')
    engine = create_async_engine(URL)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE bare_orders (id bigserial PRIMARY KEY, service bigint NOT NULL, "
                                       "link text NOT NULL, quantity bigint NOT NULL, "
                                       "created_at timestamptz NOT NULL DEFAULT now())"))
    finally:
        await engine.dispose()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url + path, timeout=1.0).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not start")


_COUNTER = itertools.count()


async def _load(url: str, clients: int, seconds: float, make_form: Any) -> tuple[int, int]:
    """Send forms from ``clients`` concurrent workers for ``seconds``; (successful calls, errors)."""
    ok = errors = 0
    deadline = time.perf_counter() + seconds
    counter = _COUNTER  # links stay unique across rounds: a provider refuses a second active order per link

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal ok, errors
        while time.perf_counter() < deadline:
            response = await http.post(url, data=make_form(next(counter)))
            body = response.json()
            if response.status_code == 200 and not (isinstance(body, dict) and "error" in body):
                ok += 1
            else:
                errors += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as http:
        await asyncio.gather(*(worker(http) for _ in range(clients)))
    return ok, errors


async def _setup_vpnsmm(base: str, users: int) -> tuple[list[str], int]:
    """Admin login, a simulated provider with its services, ``users`` funded customers with an API key each."""
    async with httpx.AsyncClient(base_url=base, timeout=60.0) as http:
        token = (await http.post("/v1/auth/login", json={"username": "boss", "password": "boss password"})).json()
        admin = {"Authorization": f"Bearer {token['access_token']}"}
        provider = (await http.post("/v1/admin/smm/providers", headers=admin, json={
            "name": "sim", "kind": "simulated", "api_url": "http://simulated.invalid/api/v2", "api_key": "k",
            "currency": "USD"})).json()
        await http.post(f"/v1/admin/smm/providers/{provider['id']}/sync", headers=admin, json={"markup": "0"})
        keys = []
        for n in range(users):
            registered = (await http.post("/v1/auth/register", json={"username": f"buyer{n}",
                                                                      "password": "buyer password"})).json()
            auth = {"Authorization": f"Bearer {registered['access_token']}"}
            me = (await http.get("/v1/me", headers=auth)).json()
            keys.append((await http.post("/v1/api-keys", headers=auth, json={"name": "bench"})).json()["key"])
            await http.post(f"/v1/admin/wallets/{me['id']}/adjust", headers=admin, json={
                "amount": "10000000.00", "currency": "USD", "reason": "bench", "idempotency_key": f"bench-fund-{n}"})
        services = (await http.post("/api/v2", data={"key": keys[0], "action": "services"})).json()
        followers = next(s["service"] for s in services if s["name"] == "Instagram Followers")
    return keys, int(followers)


async def _unforwarded(engine: Any) -> int:
    """Orders not yet handed to the provider (``sending``, or ``queued`` and never tried: a provider's refusal
    puts an order back in the queue with its error, for the periodic sweep, which this benchmark does not run)."""
    async with engine.connect() as conn:
        return int((await conn.execute(sa.text(
            "SELECT count(*) FROM smm_orders WHERE submit_state = 'sending' "
            "OR (submit_state = 'queued' AND error = '')"))).scalar_one())


async def _forwarded_load(url: str, clients: int, seconds: float, make_form: Any) -> tuple[float, float, int, float]:
    """Load for ``seconds``, then wait until every accepted order reached the provider. Returns (accepted/s,
    forwarded/s over the load *and* the drain, errors, drain seconds): /api/v2 answers before forwarding
    (docs/smm.md), so only the second figure says how many orders per second really go through."""
    engine = create_async_engine(URL, pool_size=1)  # one connection for the drain's polls
    try:
        started = time.perf_counter()
        ok, errors = await _load(url, clients, seconds, make_form)
        loaded = time.perf_counter()
        while await _unforwarded(engine):
            if time.perf_counter() - loaded > 120:
                raise RuntimeError("orders were not forwarded within 120 s")
            await asyncio.sleep(0.02)
        finished = time.perf_counter()
    finally:
        await engine.dispose()
    return ok / seconds, ok / (finished - started), errors, finished - loaded


async def run(clients: int, seconds: float, rounds: int, users: int) -> dict[str, Any]:
    await _prepare_database()
    data_dir = Path(tempfile.mkdtemp(prefix="vpnsmm-bench-smm-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPNSMM_")}
    env.update({"VPNSMM_DATA_DIR": str(data_dir), "VPNSMM_DATABASE_URL": URL, "VPNSMM_DEFAULT_CURRENCY": "USD",
                "VPNSMM_RATE_LIMITS": "off", "VPNSMM_LOG_LEVEL": "WARNING", "VPNSMM_JOBS_IN_PROCESS": "off",
                "PYTHONPATH": str(ROOT / "src")})
    subprocess.run([sys.executable, "-m", "vpnsmm", "users", "create", "boss", "--role", "admin",
                    "--password-stdin"], input=b"boss password\n", env=env, check=True, capture_output=True)
    app_port, bare_port = _free_port(), _free_port()
    app = subprocess.Popen([sys.executable, "-m", "vpnsmm", "serve", "--host", "127.0.0.1", "--port",
                            str(app_port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bare = subprocess.Popen([sys.executable, __file__, "--serve-bare", "--port", str(bare_port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        app_url, bare_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{bare_port}"
        _wait_healthy(app_url, app, "/health")
        _wait_healthy(bare_url, bare, "/api/v2")
        keys, service = await _setup_vpnsmm(app_url, max(1, users))
        key = keys[0]

        def add_form(i: int) -> dict[str, str]:  # every add from the first user
            return {"key": key, "action": "add", "service": str(service),
                    "link": f"https://instagram.com/p/bench{i}", "quantity": "100"}

        def spread_form(i: int) -> dict[str, str]:  # round-robin over all users
            return {**add_form(i), "key": keys[i % len(keys)]}

        await _load(f"{app_url}/api/v2", clients, 2, spread_form)  # warm-up (every key authenticated once)
        await _load(f"{bare_url}/api/v2", clients, 2, add_form)
        one, many, bare_runs, errors = [], [], [], {"one_user": 0, "many_users": 0, "bare": 0}
        accepted: dict[str, list[float]] = {"one_user": [], "many_users": []}
        drains: list[float] = []
        for _ in range(rounds):  # interleaved, so drift on this VM hits all three alike
            for name, form, out in (("one_user", add_form, one), ("many_users", spread_form, many)):
                taken, forwarded, err, drain = await _forwarded_load(f"{app_url}/api/v2", clients, seconds, form)
                accepted[name].append(taken)
                out.append(forwarded)
                errors[name] += err
                drains.append(drain)
            ok, err = await _load(f"{bare_url}/api/v2", clients, seconds, add_form)
            bare_runs.append(ok / seconds)
            errors["bare"] += err

        async with httpx.AsyncClient(timeout=60.0) as http:
            listed = (await http.post(f"{app_url}/api/v2", data={"key": key, "action": "status",
                                                                  "orders": "1"})).json()
            assert "1" in listed
        ids = ",".join(str(i) for i in range(1, 101))

        def status_form(_: int) -> dict[str, str]:
            return {"key": key, "action": "status", "orders": ids}

        status_ok, status_err = await _load(f"{app_url}/api/v2", clients, seconds, status_form)
    finally:
        for proc in (app, bare):
            proc.terminate()
            proc.wait(timeout=20)
        await _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    bare_median = statistics.median(bare_runs)
    return {
        "clients": clients, "seconds": seconds, "rounds": rounds, "users": len(keys),
        # orders accepted *and* forwarded to the provider, per second of load plus drain (the honest figure)
        "api_v2_add_one_user_per_s": round(statistics.median(one), 1),
        "api_v2_add_many_users_per_s": round(statistics.median(many), 1),
        # orders answered per second during the load alone
        "accepted_one_user_per_s": round(statistics.median(accepted["one_user"]), 1),
        "accepted_many_users_per_s": round(statistics.median(accepted["many_users"]), 1),
        "max_drain_s": round(max(drains), 3),
        "bare_insert_per_s": round(bare_median, 1), "errors": errors,
        "one_user_vs_bare_ratio": round(statistics.median(one) / bare_median, 3) if bare_median else None,
        "many_users_vs_bare_ratio": round(statistics.median(many) / bare_median, 3) if bare_median else None,
        # each round's loads ran back to back, so a round's ratio is the least disturbed by drift on a shared VM
        "one_user_ratio_per_round": [round(o / b, 3) for o, b in zip(one, bare_runs, strict=True) if b],
        "many_users_ratio_per_round": [round(m / b, 3) for m, b in zip(many, bare_runs, strict=True) if b],
        "runs": {"one_user": [round(x, 1) for x in one], "many_users": [round(x, 1) for x in many],
                 "bare": [round(x, 1) for x in bare_runs]},
        "api_v2_status_100_ids_per_s": round(status_ok / seconds, 1), "api_v2_status_errors": status_err,
        "order_statuses_per_s": round(100 * status_ok / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=50, help="customers the spread load round-robins over")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
        return
    print(json.dumps(asyncio.run(run(args.clients, args.seconds, args.rounds, args.users)), indent=2))


if __name__ == "__main__":
    main()
