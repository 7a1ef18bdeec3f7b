"""The scaled-out deployment end to end: two ``vpnsmm serve`` processes and one ``vpnsmm worker`` on one PostgreSQL
database and one Redis, background jobs only in the worker (``VPNSMM_JOBS_IN_PROCESS=off``).

An order placed on API process A is submitted by A to the provider; the worker's ``smm.poll`` (every second here)
moves it to a terminal status and settles the refund; API process B sees the same order and a consistent wallet.

The provider is the simulated Perfect Panel served over a real socket by this test (``create_app``): the
container's built-in ``simulated`` provider keeps its orders in the memory of one process, so an order sent by
an API process is unknown to the worker's copy. The demo data (users, funds) comes from ``vpnsmm demo``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.asgi_server import serve_in_thread
from tests.support.databases import temporary_postgres_database
from tests.support.redis import require_redis
from tests.support.server import running_server
from vpnsmm.adapters.smm import SimulatedPanel, create_app
from vpnsmm.domain.smm import OrderStatus

WAIT = 60.0
TERMINAL = {"Completed", "Partial", "Canceled", "Refunded"}


def _env(db_url: str, redis_url: str, data_dir: Path) -> dict[str, str]:
    return {"VPNSMM_DATABASE_URL": db_url, "VPNSMM_REDIS_URL": redis_url, "VPNSMM_DATA_DIR": str(data_dir),
            "VPNSMM_JOBS_IN_PROCESS": "off", "VPNSMM_JOB_POLL_MS": "100",
            "VPNSMM_JOB_SCHEDULES": "smm.poll=every:1; smm.submit=every:1", "VPNSMM_LOG_FORMAT": "json"}


def _clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPNSMM_")}
    env.update(extra)
    return env


def _demo(env: Mapping[str, str]) -> dict[str, str]:
    done = subprocess.run([sys.executable, "-m", "vpnsmm", "demo", "--json"], env=_clean_env(env),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout)
    return {u["username"]: u["password"] for u in report["users"]}


@contextmanager
def _worker(env: Mapping[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "vpnsmm", "worker", "--grace", "2"], env=_clean_env(env),
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _login(http: httpx.Client, username: str, password: str) -> dict[str, str]:
    response = http.post("/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _balance(http: httpx.Client, headers: Mapping[str, str], currency: str) -> int:
    wallets = http.get("/v1/wallet", headers=headers)
    assert wallets.status_code == 200, wallets.text
    return sum(int(w["balance"]["amount_minor"]) for w in wallets.json() if w["currency"] == currency)


def test_two_api_processes_and_a_worker_share_one_database(tmp_path: Path) -> None:
    redis_url = require_redis()
    panel = SimulatedPanel(api_key="mp-key", balance="1000.00000")
    with ExitStack() as stack:
        db_url = stack.enter_context(temporary_postgres_database())
        env = _env(db_url, redis_url, tmp_path / "shared")
        passwords = _demo(env)
        provider_url = stack.enter_context(serve_in_thread(create_app(panel)))
        a = stack.enter_context(running_server(tmp_path / "a", env=env))
        b = stack.enter_context(running_server(tmp_path / "b", env=env))
        worker = stack.enter_context(_worker(env, tmp_path / "worker.log"))
        api_a = stack.enter_context(httpx.Client(base_url=a, timeout=30.0))
        api_b = stack.enter_context(httpx.Client(base_url=b, timeout=30.0))

        # An admin on A adds the socket-served provider, priced like the demo's simulated one.
        admin = _login(api_a, "demo-admin", passwords["demo-admin"])
        demo_provider = api_a.get("/v1/admin/smm/providers", headers=admin).json()[0]
        added = api_a.post("/v1/admin/smm/providers", headers=admin, json={
            "name": "socket sim", "api_url": f"{provider_url}/api/v2", "api_key": "mp-key", "currency": "USD",
            "kind": "perfect_panel", "exchange_rate": demo_provider["exchange_rate"]})
        assert added.status_code == 201, added.text
        provider_id = added.json()["id"]
        synced = api_a.post(f"/v1/admin/smm/providers/{provider_id}/sync", headers=admin, json={"markup": "0"})
        assert synced.status_code == 200, synced.text
        service = next(s for s in api_a.get("/v1/admin/smm/services", headers=admin).json()
                       if s["provider_id"] == provider_id and s["provider_service_id"] == "1")

        # demo places an order on A: charged at once and sent to the provider by A.
        demo_a = _login(api_a, "demo", passwords["demo"])
        placed = api_a.post("/v1/smm/orders", headers=demo_a, json={
            "service": service["id"], "link": "https://instagram.com/p/multiprocess", "quantity": 1000})
        assert placed.status_code == 201, placed.text
        order = placed.json()
        currency = order["charge"]["currency"]
        charge = int(order["charge"]["amount_minor"])
        assert charge > 0 and order["submit_state"] == "sent"
        demo_b = _login(api_b, "demo", passwords["demo"])
        before = _balance(api_b, demo_b, currency) + charge  # what demo had before the order

        # The provider delivers 600 of 1000; only the worker polls, and B sees the outcome.
        listed = api_a.get("/v1/admin/smm/orders", headers=admin)
        provider_order_id = next((o["provider_order_id"] for o in _items(listed.json()) if o["id"] == order["id"]),
                                 None)
        assert provider_order_id, listed.text
        panel.advance(provider_order_id, OrderStatus.PARTIAL, remains=400)
        deadline = time.monotonic() + WAIT
        seen: dict[str, Any] = {}
        while time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-4000:]
            seen = api_b.get(f"/v1/smm/orders/{order['id']}", headers=demo_b).json()
            if seen["status"] in TERMINAL:
                break
            time.sleep(0.3)
        assert seen.get("status") == "Partial", (seen, (tmp_path / "worker.log").read_text()[-4000:])
        refunded = int(seen["refunded"]["amount_minor"])
        assert 0 < refunded < charge and seen["remains"] == 400
        assert _balance(api_b, demo_b, currency) == before - charge + refunded
        # Nothing settles twice: more polls by the worker leave the wallet where it is.
        time.sleep(2.5)
        assert _balance(api_a, demo_a, currency) == before - charge + refunded
        again = api_a.get(f"/v1/smm/orders/{order['id']}", headers=demo_a).json()
        assert again["status"] == "Partial" and int(again["refunded"]["amount_minor"]) == refunded


def _items(body: Any) -> list[dict[str, Any]]:
    return list(body["items"] if isinstance(body, dict) else body)
