"""An in-process Cryptomus merchant API for tests and demos: same paths, headers, signing, envelopes, units.

Serve :attr:`FakeCryptomus.app` through ``httpx.ASGITransport`` or with uvicorn. Invoices live in memory.

* ``POST /v1/payment`` (idempotent per ``order_id``), ``POST /v1/payment/info`` (by ``uuid`` or ``order_id``,
  ``order_id`` wins), ``POST /v2/payment/resend`` (and the older ``/v1`` path): every call must carry the
  ``merchant`` header and ``sign`` = md5(base64(raw body) + payment key) over the raw bytes received.
* Errors: 401 ``{"state":1,"message":"Invalid Sign"}``; 422 ``{"state":1,"errors":{field:[rule]}}``;
  404 ``{"state":1,"message":"Payment not found"}``.
* Test controls: :meth:`FakeCryptomus.complete`, :meth:`FakeCryptomus.webhook` (a correctly signed
  notification as ``(body_bytes, headers)``, to replay or tamper with), :meth:`FakeCryptomus.inject`.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid as uuidlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
from litestar import Litestar, Request, Response, post

from vpnsmm.adapters.payments.cryptomus_signing import php_json_encode, request_sign, sign_matches, webhook_sign

__all__ = ["FINAL_STATUSES", "FakeCryptomus"]

FINAL_STATUSES = frozenset({"paid", "paid_over", "wrong_amount", "fail", "cancel", "system_fail", "refund_paid",
                            "refund_fail"})
_STATUSES = FINAL_STATUSES | {"process", "check", "confirm_check", "wrong_amount_waiting", "refund_process",
                              "locked"}
_AMOUNT = re.compile(r"^\d{1,18}(\.\d{1,18})?$")
_ALPHA_DASH = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class FakeCryptomus:
    """Cryptomus in memory for one merchant (``merchant_uuid`` + ``payment_api_key``).

    ``now`` is the clock used for ``created_at``/``expired_at``. Not thread-safe; meant for one event loop.
    """

    def __init__(self, merchant_uuid: str, payment_api_key: str, *, pay_base: str = "https://pay.cryptomus.com",
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.merchant_uuid = merchant_uuid
        self._key = payment_api_key
        self.pay_base = pay_base.rstrip("/")
        self.now = now
        self.invoices: dict[str, dict[str, Any]] = {}
        self.raw_requests: list[tuple[str, bytes, dict[str, str]]] = []  # (path, body, headers) as received
        self.resent: list[tuple[bytes, dict[str, str]]] = []  # webhooks /resend would have POSTed
        self._injected: list[tuple[int, bytes]] = []
        self.app = self._build_app()

    # -- test controls --------------------------------------------------------------------------
    def complete(self, uuid: str, status: str = "paid", *, payment_amount: str | None = None,
                 txid: str | None = None) -> dict[str, Any]:
        """Move invoice ``uuid`` to ``status`` as if the blockchain/Cryptomus did. ``payment_amount`` is what the
        payer sent (default: the invoice amount). Returns the invoice. Raises KeyError/ValueError on misuse."""
        if status not in _STATUSES:
            raise ValueError(f"unknown Cryptomus status {status!r}")
        invoice = self.invoices[uuid]
        invoice["payment_status"] = invoice["status"] = status
        invoice["is_final"] = status in FINAL_STATUSES
        if status in ("paid", "paid_over", "wrong_amount", "wrong_amount_waiting", "confirm_check"):
            invoice["payment_amount"] = payment_amount or invoice["payer_amount"]
            invoice["txid"] = txid or secrets.token_hex(32)
        invoice["updated_at"] = self.now().isoformat()
        return invoice

    def webhook(self, uuid: str, *, overrides: Mapping[str, Any] | None = None, api_key: str | None = None,
                escape_unicode: bool = False) -> tuple[bytes, dict[str, str]]:
        """The notification Cryptomus would POST for invoice ``uuid`` now, signed like Cryptomus signs it.

        ``overrides`` replace fields *before* signing (still authentic); change the bytes afterwards to forge.
        ``api_key`` signs with another key (forgery). ``escape_unicode`` writes non-ASCII as ``\\uXXXX`` on the
        wire (the signature is over the PHP re-encoding either way).
        """
        inv = self.invoices[uuid]
        payload: dict[str, Any] = {
            "type": "payment", "uuid": inv["uuid"], "order_id": inv["order_id"], "amount": inv["amount"],
            "payment_amount": inv["payment_amount"], "payment_amount_usd": inv["payment_amount"],
            "merchant_amount": inv["merchant_amount"], "commission": "0.00", "is_final": inv["is_final"],
            "status": inv["payment_status"], "from": None, "wallet_address_uuid": None, "network": inv["network"],
            "currency": inv["currency"], "payer_currency": inv["payer_currency"],
            "additional_data": inv["additional_data"], "convert": {}, "txid": inv["txid"],
        }
        payload.update(overrides or {})
        payload["sign"] = webhook_sign({k: v for k, v in payload.items() if k != "sign"}, api_key or self._key)
        if escape_unicode:
            body = json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()
        else:
            body = php_json_encode(payload).encode()
        return body, {"content-type": "application/json"}

    def inject(self, http_status: int, body: bytes = b"<html>Bad Gateway</html>") -> None:
        """Make the next API call answer ``http_status`` with ``body`` (an outage, a proxy page)."""
        self._injected.append((http_status, body))

    def transport(self) -> httpx.ASGITransport:
        """An httpx transport that calls this fake in-process (``httpx.AsyncClient(transport=fake.transport())``)."""
        # Litestar's precise ASGI types are narrower than httpx's generic ASGI callable; they are compatible.
        return httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]

    # -- the app --------------------------------------------------------------------------------
    def _build_app(self) -> Litestar:
        fake = self

        async def api(request: Request[Any, Any, Any], path: str,
                      handler: Callable[[dict[str, Any]], Response[bytes]]) -> Response[bytes]:
            raw = await request.body()
            headers = dict(request.headers)
            fake.raw_requests.append((path, raw, headers))
            if fake._injected:
                status, body = fake._injected.pop(0)
                return Response(body, status_code=status, media_type="text/html")
            if headers.get("merchant") != fake.merchant_uuid or not sign_matches(
                    request_sign(raw, fake._key), headers.get("sign")):
                return _reply({"state": 1, "message": "Invalid Sign"}, 401)
            try:
                data = msgspec.json.decode(raw) if raw else {}
            except msgspec.DecodeError:
                return _reply({"state": 1, "message": "Invalid JSON"}, 400)
            if not isinstance(data, dict):
                return _reply({"state": 1, "message": "Invalid JSON"}, 400)
            return handler(data)

        @post("/v1/payment", status_code=200)
        async def create(request: Request[Any, Any, Any]) -> Response[bytes]:
            return await api(request, "/v1/payment", fake._create)

        @post("/v1/payment/info", status_code=200)
        async def info(request: Request[Any, Any, Any]) -> Response[bytes]:
            return await api(request, "/v1/payment/info", fake._info)

        @post(["/v2/payment/resend", "/v1/payment/resend"], status_code=200)
        async def resend(request: Request[Any, Any, Any]) -> Response[bytes]:
            return await api(request, "/v2/payment/resend", fake._resend)

        return Litestar(route_handlers=[create, info, resend], openapi_config=None)

    # -- endpoints ------------------------------------------------------------------------------
    def _create(self, data: dict[str, Any]) -> Response[bytes]:
        errors: dict[str, list[str]] = {}
        amount, currency, order_id = data.get("amount"), data.get("currency"), data.get("order_id")
        if amount is None:
            errors["amount"] = ["validation.required"]
        elif not isinstance(amount, str) or not _AMOUNT.match(amount):
            errors["amount"] = ["validation.numeric"]
        if not isinstance(currency, str) or not currency:
            errors["currency"] = ["validation.required"]
        if order_id is None:
            errors["order_id"] = ["validation.required"]
        elif not isinstance(order_id, str) or not _ALPHA_DASH.match(order_id):
            errors["order_id"] = ["validation.alpha_dash"]
        for name in ("url_return", "url_success", "url_callback"):
            url = data.get(name)
            if url is not None and (not isinstance(url, str) or not 6 <= len(url) <= 255
                                    or not url.startswith(("http://", "https://"))):
                errors[name] = ["validation.url"]
        lifetime = data.get("lifetime", 3600)
        if type(lifetime) is not int or not 300 <= lifetime <= 43200:
            errors["lifetime"] = ["validation.between.numeric"]
        if errors:
            return _reply({"state": 1, "errors": errors}, 422)
        assert isinstance(order_id, str)
        assert isinstance(amount, str)
        assert isinstance(currency, str)
        existing = self._by_order(order_id)
        if existing is not None:  # documented: an existing order_id returns the existing invoice
            return _reply({"state": 0, "result": existing})
        uid = str(uuidlib.uuid4())
        now = self.now()
        invoice = {
            "uuid": uid, "order_id": order_id, "amount": amount, "payment_amount": None, "payer_amount": amount,
            "discount_percent": 0, "discount": "0.00", "payer_currency": "USDT", "currency": currency,
            "comments": None, "merchant_amount": amount, "network": "tron", "address": "T" + secrets.token_hex(16),
            "from": None, "txid": None, "payment_status": "check", "url": f"{self.pay_base}/pay/{uid}",
            "expired_at": int(now.timestamp()) + lifetime, "status": "check", "is_final": False,
            "additional_data": data.get("additional_data"), "url_callback": data.get("url_callback"),
            "created_at": now.isoformat(), "updated_at": now.isoformat(),
        }
        self.invoices[uid] = invoice
        return _reply({"state": 0, "result": invoice})

    def _by_order(self, order_id: str) -> dict[str, Any] | None:
        return next((i for i in self.invoices.values() if i["order_id"] == order_id), None)

    def _find(self, data: dict[str, Any]) -> dict[str, Any] | Response[bytes]:
        order_id, uid = data.get("order_id"), data.get("uuid")
        if order_id is None and uid is None:
            return _reply({"state": 1, "errors": {"uuid": ["validation.required_without_all"],
                                                  "order_id": ["validation.required_without_all"]}}, 422)
        invoice = (self._by_order(order_id) if isinstance(order_id, str)
                   else self.invoices.get(uid) if isinstance(uid, str) else None)
        if invoice is None:
            return _reply({"state": 1, "message": "Payment not found"}, 404)
        return invoice

    def _info(self, data: dict[str, Any]) -> Response[bytes]:
        found = self._find(data)
        return found if isinstance(found, Response) else _reply({"state": 0, "result": found})

    def _resend(self, data: dict[str, Any]) -> Response[bytes]:
        found = self._find(data)
        if isinstance(found, Response):
            return found
        if found["payment_status"] not in ("paid", "paid_over", "wrong_amount") or not found["url_callback"]:
            return _reply({"state": 1, "message": "Payment is not final or has no url_callback"}, 422)
        self.resent.append(self.webhook(found["uuid"]))
        return _reply({"state": 0, "result": []})


def _reply(doc: dict[str, Any], status: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(doc), status_code=status, media_type="application/json")
