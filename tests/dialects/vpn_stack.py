"""A real ``vpnsmm serve`` for the VPN dialect suites: gateway fakes over uvicorn (Zarinpal, Cryptomus),
card-to-card configured, an admin made with the CLI, a fake panel server and a plan priced in IRR and RUB."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.support.asgi_server import serve_in_thread
from tests.support.databases import temporary_postgres_database
from tests.support.server import running_server
from vpnsmm.adapters.payments.fake_cryptomus import FakeCryptomus
from vpnsmm.adapters.payments.fake_zarinpal import FakeZarinpal

ZP_MERCHANT = "1344b5d4-0048-11e8-94db-005056a205be"
CARD = "6037997412345671"
ADMIN, ADMIN_PASSWORD = "boss", "boss password"
#: Generous budgets so the suite is not throttled, but limiting is on (the headers must appear).
RATE_LIMITS = ("anonymous=5000/60,authenticated=5000/60,auth=5000/60,read=5000/60,orders=5000/60,"
               "balance=5000/60,admin=5000/60")


class Stack:
    def __init__(self, url: str, zarinpal: FakeZarinpal, cryptomus: FakeCryptomus, backend: str) -> None:
        self.url, self.zarinpal, self.cryptomus, self.backend = url, zarinpal, cryptomus, backend
        self.http = httpx.Client(base_url=url, timeout=30.0)
        self.admin = self.bearer(self.native_login(ADMIN, ADMIN_PASSWORD))
        self.server_id, self.plan_id = self._catalogue()

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def native_login(self, username: str, password: str) -> str:
        response = self.http.post("/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def native_register(self, username: str, password: str = "customer password", **extra: Any) -> dict[str, Any]:
        response = self.http.post("/v1/auth/register", json={"username": username, "password": password, **extra})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def fund(self, user_id: int, amount: str, currency: str, key: str) -> None:
        response = self.http.post(f"/v1/admin/wallets/{user_id}/adjust", headers=self.admin, json={
            "amount": amount, "currency": currency, "reason": "dialect suite", "idempotency_key": key})
        assert response.status_code == 201, response.text

    def balance(self, headers: dict[str, str], currency: str) -> int:
        wallets = self.http.get("/v1/wallet", headers=headers).json()
        return next((w["balance"]["amount_minor"] for w in wallets if w["currency"] == currency), 0)

    def _catalogue(self) -> tuple[int, int]:
        server = self.http.post("/v1/admin/vpn/servers", headers=self.admin, json={
            "kind": "fake", "name": "dialect-node", "address": "https://node1.dialect.test:2053/secret-path",
            "group": "dialect", "location": "Frankfurt"})
        assert server.status_code == 201, server.text
        plan = self.http.post("/v1/admin/vpn/plans", headers=self.admin, json={
            "name": "Dialect monthly", "prices": {"IRR": "1500000", "RUB": "299.00"}, "duration_days": 30,
            "traffic_gb": 50, "server_group": "dialect", "description": "30 days, 50 GiB",
            "extra_gb_prices": {"RUB": "10.00"}})
        assert plan.status_code == 201, plan.text
        return int(server.json()["id"]), int(plan.json()["id"])


def stack_for(backend: str, data_dir: Path) -> Iterator[Stack]:
    zarinpal, cryptomus = FakeZarinpal([ZP_MERCHANT]), FakeCryptomus("merchant-uuid", "pay-key")
    with serve_in_thread(zarinpal.app) as zp_url, serve_in_thread(cryptomus.app) as cm_url:
        env = {"VPNSMM_ZARINPAL_MERCHANT_ID": ZP_MERCHANT, "VPNSMM_ZARINPAL_API_BASE": zp_url,
               "VPNSMM_ZARINPAL_STARTPAY_BASE": zp_url, "VPNSMM_CRYPTOMUS_MERCHANT": "merchant-uuid",
               "VPNSMM_CRYPTOMUS_API_KEY": "pay-key", "VPNSMM_CRYPTOMUS_BASE_URL": cm_url,
               "VPNSMM_CARD_NUMBER": CARD, "VPNSMM_CARD_HOLDER": "Shop Owner", "VPNSMM_RATE_LIMITS": RATE_LIMITS}
        if backend == "postgres":
            with temporary_postgres_database() as db_url:
                env["VPNSMM_DATABASE_URL"] = db_url
                yield from _run(backend, data_dir, env, zarinpal, cryptomus)
        else:
            yield from _run(backend, data_dir, env, zarinpal, cryptomus)


def _run(backend: str, data_dir: Path, env: dict[str, str], zarinpal: FakeZarinpal,
         cryptomus: FakeCryptomus) -> Iterator[Stack]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("VPNSMM_")}
    full.update({"VPNSMM_DATA_DIR": str(data_dir), **env})
    created = subprocess.run([sys.executable, "-m", "vpnsmm", "users", "create", ADMIN, "--role", "admin",
                              "--password-stdin"], input=ADMIN_PASSWORD + "\n", text=True, capture_output=True,
                             env=full, check=False, timeout=60)
    assert created.returncode == 0, created.stderr
    with running_server(data_dir, env=env) as url:
        stack = Stack(url, zarinpal, cryptomus, backend)
        try:
            yield stack
        finally:
            stack.http.close()
