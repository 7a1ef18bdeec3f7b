"""An in-process Zarinpal v4 for tests and demos: same paths, envelopes, units and error bodies.

Serve :attr:`FakeZarinpal.app` through ``httpx.ASGITransport`` or with uvicorn. It keeps sessions in memory.

* ``POST /pg/v4/payment/{request,verify,inquiry,unVerified,reverse}.json`` -- the JSON API.
* ``GET /pg/StartPay/{authority}`` -- a page with "pay" and "cancel" links; they 302 back to the session's
  ``callback_url?Authority=...&Status=OK|NOK`` like the real gateway.
* Test controls: :meth:`FakeZarinpal.pay`, :meth:`FakeZarinpal.cancel`, :meth:`FakeZarinpal.inject`.

Sandbox: a request whose Host starts with ``sandbox.`` (or any request when built with ``sandbox=True``)
accepts any 36-character merchant id, and authorities start with ``S`` instead of ``A``. Error envelopes are
answered with HTTP 400 (the adapter does not depend on the status; see docs/adapters/zarinpal.md).
"""

from __future__ import annotations

import hashlib
import html
import itertools
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import msgspec
from attrs import define
from litestar import Litestar, Request, Response, get, post

__all__ = ["FakeZarinpal", "FakeZarinpalSession"]

_MAX_IRR = 100_000_000 * 10  # 100,000,000 toman
_MIN_IRR = 1_000  # the real minimum is not in the reference; 1,000 rials keeps tests honest about -9

_MESSAGES = {
    -9: "The input params invalid, validation error.",
    -10: "Terminal is not valid, please check merchant_id or ip address.",
    -14: "The callback URL domain does not match the registered terminal domain.",
    -41: "Maximum amount is 100,000,000 tomans.",
    -50: "Session is not valid, amounts values is not the same.",
    -51: "Session is not valid, session is not active paid try.",
    -53: "Session is not valid, session is not belong to this merchant_id.",
    -54: "Invalid authority.",
    -61: "Session is not in success status.",
}


@define
class FakeZarinpalSession:
    authority: str
    merchant_id: str
    amount: int
    currency: str
    description: str
    callback_url: str
    metadata: dict[str, Any]
    status: str = "IN_BANK"  # IN_BANK | PAID | VERIFIED | FAILED | REVERSED
    ref_id: int | None = None
    card_pan: str | None = None
    card_hash: str | None = None
    created: str = ""


class FakeZarinpal:
    """Zarinpal v4 in memory. ``merchant_ids`` are the production terminals it knows.

    ``terminal_domain`` enables the -14 check on callback URLs; ``fee`` is the flat fee it reports (in the
    session's unit). Not thread-safe; meant for one event loop.
    """

    def __init__(self, merchant_ids: Iterable[str] = (), *, terminal_domain: str | None = None, fee: int = 0,
                 sandbox: bool = False) -> None:
        self.merchant_ids = set(merchant_ids)
        self.terminal_domain = terminal_domain
        self.fee = fee
        self.sandbox = sandbox
        self.sessions: dict[str, FakeZarinpalSession] = {}
        self.hosts_seen: list[str] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (endpoint, decoded body): for assertions
        self._injected: list[tuple[int | None, int, str]] = []  # (provider code, http status, message)
        self._ref_ids = itertools.count(100_001)
        self.app = self._build_app()

    # -- test controls --------------------------------------------------------------------------
    def pay(self, authority: str, *, card_pan: str = "502229******5995") -> None:
        """The customer pays at the bank: IN_BANK -> PAID. Raises KeyError/ValueError on misuse."""
        session = self.sessions[authority]
        if session.status != "IN_BANK":
            raise ValueError(f"session {authority} is {session.status}")
        session.status = "PAID"
        session.card_pan = card_pan
        session.card_hash = hashlib.sha256(card_pan.encode()).hexdigest().upper()

    def cancel(self, authority: str) -> None:
        """The customer cancels (or the bank fails): IN_BANK -> FAILED."""
        session = self.sessions[authority]
        if session.status != "IN_BANK":
            raise ValueError(f"session {authority} is {session.status}")
        session.status = "FAILED"

    def inject(self, code: int | None = None, *, http_status: int = 400, message: str | None = None) -> None:
        """Make the next API call fail: with a Zarinpal error envelope for ``code``, or, when ``code`` is None,
        with a bare ``http_status`` answer whose body is an HTML error page (a proxy in the way)."""
        self._injected.append((code, http_status, message or _MESSAGES.get(code or 0, "Error")))

    def transport(self) -> httpx.ASGITransport:
        """An httpx transport that calls this fake in-process (``httpx.AsyncClient(transport=fake.transport())``)."""
        # Litestar's precise ASGI types are narrower than httpx's generic ASGI callable; they are compatible.
        return httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]

    # -- the app --------------------------------------------------------------------------------
    def _build_app(self) -> Litestar:
        fake = self

        async def api(request: Request[Any, Any, Any], endpoint: str) -> Response[bytes]:
            fake.hosts_seen.append(request.headers.get("host", ""))
            if fake._injected:
                code, status, message = fake._injected.pop(0)
                if code is None:
                    return Response(b"<html>502 Bad Gateway</html>", status_code=status, media_type="text/html")
                return _error(code, message)
            try:
                body = msgspec.json.decode(await request.body())
            except msgspec.DecodeError:
                return _error(-9, validations=[{"body": "The body must be valid JSON."}])
            if not isinstance(body, dict):
                return _error(-9, validations=[{"body": "The body must be a JSON object."}])
            fake.requests.append((endpoint, body))
            sandbox = fake.sandbox or request.headers.get("host", "").startswith("sandbox.")
            merchant = body.get("merchant_id")
            if not isinstance(merchant, str) or len(merchant) != 36:
                return _error(-9, validations=[{"merchant_id": "The merchant id must be 36 characters."}])
            if not sandbox and merchant not in fake.merchant_ids:
                return _error(-10)
            handler = {"request.json": fake._request, "verify.json": fake._verify,
                       "inquiry.json": fake._inquiry, "unVerified.json": fake._unverified,
                       "reverse.json": fake._reverse}[endpoint]
            return handler(body, sandbox=sandbox)

        @post("/pg/v4/payment/request.json", status_code=200)
        async def request_json(request: Request[Any, Any, Any]) -> Response[bytes]:
            return await api(request, "request.json")

        @post("/pg/v4/payment/verify.json", status_code=200)
        async def verify_json(request: Request[Any, Any, Any]) -> Response[bytes]:
            return await api(request, "verify.json")

        @post("/pg/v4/payment/inquiry.json", status_code=200)
        async def inquiry_json(request: Request[Any, Any, Any]) -> Response[bytes]:
            return await api(request, "inquiry.json")

        @post("/pg/v4/payment/unVerified.json", status_code=200)
        async def unverified_json(request: Request[Any, Any, Any]) -> Response[bytes]:
            return await api(request, "unVerified.json")

        @post("/pg/v4/payment/reverse.json", status_code=200)
        async def reverse_json(request: Request[Any, Any, Any]) -> Response[bytes]:
            return await api(request, "reverse.json")

        @get("/pg/StartPay/{authority:str}")
        async def start_pay(request: Request[Any, Any, Any]) -> Response[str]:
            authority = str(request.path_params["authority"])
            session = fake.sessions.get(authority)
            if session is None:
                return Response("<h1>Invalid authority</h1>", status_code=404, media_type="text/html")
            a = html.escape(authority)
            page = (f"<h1>Fake Zarinpal</h1><p>{html.escape(session.description)}</p>"
                    f"<p>{session.amount} {session.currency}</p>"
                    f'<a href="/pg/StartPay/{a}/pay">Pay</a> <a href="/pg/StartPay/{a}/cancel">Cancel</a>')
            return Response(page, media_type="text/html")

        @get("/pg/StartPay/{authority:str}/{action:str}")
        async def start_pay_action(request: Request[Any, Any, Any]) -> Response[str]:
            authority, action = str(request.path_params["authority"]), str(request.path_params["action"])
            session = fake.sessions.get(authority)
            if session is None or action not in ("pay", "cancel"):
                return Response("<h1>Invalid authority</h1>", status_code=404, media_type="text/html")
            if session.status == "IN_BANK" and action == "pay":
                fake.pay(authority)
            elif session.status == "IN_BANK":
                fake.cancel(authority)
            ok = session.status in ("PAID", "VERIFIED")
            sep = "&" if "?" in session.callback_url else "?"
            query = urlencode({"Authority": authority, "Status": "OK" if ok else "NOK"})
            location = f"{session.callback_url}{sep}{query}"
            return Response("", status_code=302, headers={"Location": location}, media_type="text/html")

        return Litestar(route_handlers=[request_json, verify_json, inquiry_json, unverified_json, reverse_json,
                                        start_pay, start_pay_action], openapi_config=None)

    # -- endpoints ------------------------------------------------------------------------------
    def _request(self, body: dict[str, Any], *, sandbox: bool) -> Response[bytes]:
        amount, currency = body.get("amount"), body.get("currency", "IRR")
        description, callback = body.get("description"), body.get("callback_url")
        metadata = body.get("metadata") or {}
        if currency not in ("IRR", "IRT"):
            return _error(-9, validations=[{"currency": "The currency must be IRR or IRT."}])
        if type(amount) is not int:
            return _error(-9, validations=[{"amount": "The amount must be an integer."}])
        rials = amount * (10 if currency == "IRT" else 1)
        if rials > _MAX_IRR:
            return _error(-41)
        if rials < _MIN_IRR:
            return _error(-9, validations=[{"amount": "The amount must be at least 1000."}])
        if not isinstance(description, str) or not description or len(description) > 500:
            return _error(-9, validations=[{"description": "The description is required, at most 500 chars."}])
        if not isinstance(callback, str) or urlsplit(callback).scheme not in ("http", "https"):
            return _error(-9, validations=[{"callback_url": "The callback url is required."}])
        if self.terminal_domain and urlsplit(callback).hostname != self.terminal_domain:
            return _error(-14)
        if not isinstance(metadata, dict):
            return _error(-9, validations=[{"metadata": "The metadata must be an object."}])
        authority = ("S" if sandbox else "A") + "0" * 25 + secrets.token_hex(5)
        self.sessions[authority] = FakeZarinpalSession(
            authority, body["merchant_id"], amount, currency, description, callback, metadata,
            created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"))
        return _ok({"code": 100, "message": "Success", "authority": authority, "fee_type": "Merchant",
                    "fee": self.fee})

    def _session(self, body: dict[str, Any]) -> FakeZarinpalSession | Response[bytes]:
        authority = body.get("authority")
        if not isinstance(authority, str) or not authority:
            return _error(-9, validations=[{"authority": "The authority is required."}])
        session = self.sessions.get(authority)
        if session is None:
            return _error(-54)
        if session.merchant_id != body["merchant_id"]:
            return _error(-53)
        return session

    def _verify(self, body: dict[str, Any], *, sandbox: bool) -> Response[bytes]:
        session = self._session(body)
        if isinstance(session, Response):
            return session
        if type(body.get("amount")) is not int:
            return _error(-9, validations=[{"amount": "The amount must be an integer."}])
        if body["amount"] != session.amount:
            return _error(-50)
        if session.status not in ("PAID", "VERIFIED"):
            return _error(-51)
        code = 101 if session.status == "VERIFIED" else 100
        if code == 100:
            session.status, session.ref_id = "VERIFIED", next(self._ref_ids)
        return _ok({"code": code, "message": "Verified", "card_hash": session.card_hash,
                    "card_pan": session.card_pan, "ref_id": session.ref_id, "fee_type": "Merchant",
                    "fee": self.fee})

    def _inquiry(self, body: dict[str, Any], *, sandbox: bool) -> Response[bytes]:
        session = self._session(body)
        if isinstance(session, Response):
            return session
        return _ok({"code": 100, "message": "Success", "status": session.status})

    def _unverified(self, body: dict[str, Any], *, sandbox: bool) -> Response[bytes]:
        items = [{"authority": s.authority, "amount": s.amount, "callback_url": s.callback_url,
                  "referer": "", "date": s.created}
                 for s in self.sessions.values() if s.merchant_id == body["merchant_id"] and s.status == "PAID"]
        return _ok({"code": 100, "message": "Success", "authorities": items})

    def _reverse(self, body: dict[str, Any], *, sandbox: bool) -> Response[bytes]:
        session = self._session(body)
        if isinstance(session, Response):
            return session
        if session.status != "VERIFIED":
            return _error(-61)
        session.status = "REVERSED"
        return _ok({"code": 100, "message": "Reversed"})


def _ok(data: dict[str, Any]) -> Response[bytes]:
    return Response(msgspec.json.encode({"data": data, "errors": []}), media_type="application/json")


def _error(code: int, message: str | None = None, *, validations: list[dict[str, str]] | None = None
           ) -> Response[bytes]:
    errors: dict[str, Any] = {"code": code, "message": message or _MESSAGES.get(code, "Error"),
                              "validations": validations or []}
    return Response(msgspec.json.encode({"data": [], "errors": errors}), status_code=400,
                    media_type="application/json")
