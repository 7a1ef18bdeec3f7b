"""Outgoing webhooks: endpoints, deliveries, the payload we send and how it is signed.

Pure rules only (stdlib + attrs). The wire format follows the "Webhooks" section of the SMM REST API our
users' receivers already verify (``shared/seeds/smm-rest-api.md``):

* body: ``{"event": "order.completed", "timestamp": "2024-01-15T12:00:00Z", "data": {"order_id": "order_12",
  "status": "completed", "service_id": "service_3"}}`` (ids prefixed as the document and its smm-rest dialect
  render them) serialised exactly as JavaScript's ``JSON.stringify``
  would re-serialise it after parsing (compact, keys in that order, non-ASCII kept as UTF-8, no floats),
  so ``hmac(secret, JSON.stringify(req.body)) === signature`` holds on the receiver;
* ``X-Signature``: lowercase hex HMAC-SHA256 of the raw body with the endpoint secret (the seed check);
* ``X-Webhook-Timestamp`` + ``X-Webhook-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">``: the
  replay-resistant check (the timestamp is the send time of this attempt, signed with the body).

See docs/webhooks.md for the receiver side.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import socket
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from attrs import define, frozen

from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.events import DomainEvent, EventType, iso_z

MAX_URL_LENGTH = 2000
MAX_ENDPOINTS_PER_USER = 20
SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
SIGNATURE_V1_HEADER = "X-Webhook-Signature"
EVENT_ID_HEADER = "X-Webhook-Id"
EVENT_TYPE_HEADER = "X-Webhook-Event"
DELIVERY_HEADER = "X-Webhook-Delivery"
ATTEMPT_HEADER = "X-Webhook-Attempt"
#: How old a timestamp a receiver should accept (seconds); docs/webhooks.md recommends it.
DEFAULT_TOLERANCE = 300


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # an attempt is due (the first one, or a retry at next_attempt_at)
    SUCCEEDED = "succeeded"  # the receiver answered 2xx
    FAILED = "failed"  # out of attempts, or the endpoint was disabled/deleted before it could be delivered


# ------------------------------------------------------------------------------------------ URLs
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast IP (not private, loopback, link-local, CGNAT, reserved, multicast)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


def _literal_ip(host: str) -> str | None:
    """``host`` as a normalised IP when it is one, including the forms resolvers accept (``2130706433``,
    ``0x7f.1``, ``127.1``) that ``ipaddress`` alone does not."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fx.]+", host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _url_error(message: str, code: str = "INVALID_URL") -> ValidationError:
    return ValidationError(message, field="url", code=code)


def check_webhook_url(url: object, *, allow_private: bool = False) -> str:
    """A clean http(s) URL for a webhook endpoint, or ValidationError (field ``url``).

    Codes: INVALID_URL (not an absolute http(s) URL, credentials in it, a fragment, too long) and
    PRIVATE_URL (a loopback, private, link-local or otherwise non-public target, or a local host name)
    unless ``allow_private``. Host names are checked again at delivery time against what they resolve to.
    """
    if not isinstance(url, str):
        raise _url_error("url must be a string")
    cleaned = url.strip()
    if not cleaned or len(cleaned) > MAX_URL_LENGTH or any(ch.isspace() or ord(ch) < 0x20 for ch in cleaned):
        raise _url_error(f"url must be an http(s) URL of at most {MAX_URL_LENGTH} characters without spaces")
    try:
        parts = urlsplit(cleaned)
        host = (parts.hostname or "").rstrip(".")
        _ = parts.port  # raises ValueError for a bad port
    except ValueError:
        raise _url_error("url is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise _url_error("url must start with http:// or https:// and name a host")
    if parts.username is not None or parts.password is not None:
        raise _url_error("url must not carry credentials; the signature authenticates us")
    if parts.fragment:
        raise _url_error("url must not have a #fragment")
    ip = _literal_ip(host)
    if ip is None and not _HOSTNAME.match(host):
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            ascii_host = ""
        if not _HOSTNAME.match(ascii_host):
            raise _url_error("url has an invalid host name")
    if not allow_private:
        if ip is not None and not is_public_address(ip):
            raise _url_error("url points at a private, loopback or reserved address", "PRIVATE_URL")
        if ip is None and (host == "localhost" or host.endswith(_LOCAL_SUFFIXES) or "." not in host):
            raise _url_error("url points at a local host name", "PRIVATE_URL")
    return cleaned


# ------------------------------------------------------------------------------------------ entities
@define(kw_only=True)
class WebhookEndpoint:
    """A user's receiver. ``secret_encrypted`` is ciphertext: the secret is shown once, at creation."""

    user_id: int
    url: str
    secret_encrypted: str
    events: frozenset[EventType]
    created_at: datetime
    description: str = ""
    active: bool = True
    updated_at: datetime | None = None
    id: int = 0

    def wants(self, event: EventType) -> bool:
        return self.active and event in self.events


@define(kw_only=True)
class WebhookDelivery:
    """One event for one endpoint; unique per (endpoint, event id). ``body`` is the exact JSON sent."""

    endpoint_id: int
    user_id: int
    event_id: str
    event_type: EventType
    body: str
    created_at: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str = ""
    delivered_at: datetime | None = None
    id: int = 0


@frozen(kw_only=True)
class WebhookAttempt:
    """One POST of a delivery: what came back (``status_code`` None when no answer), how long it took,
    and when the next attempt is due (None: none will be made)."""

    delivery_id: int
    attempt: int
    at: datetime
    status_code: int | None
    latency_ms: int
    error: str
    next_retry_at: datetime | None
    id: int = 0


# ------------------------------------------------------------------------------------------ payload
def webhook_payload(event: DomainEvent) -> dict[str, Any]:
    """The body of ``event`` in the SMM REST API shape: ids as ``order_<id>``/``service_<id>`` strings (as that
    document and the smm-rest dialect show them), statuses lowercase."""
    d = event.data
    if event.type.is_order:
        data: dict[str, Any] = {"order_id": f"order_{d['order_id']}", "status": str(d["public_status"]),
                                "service_id": f"service_{d['service_id']}"}
    else:
        data = {"payment_id": f"payment_{d['payment_id']}", "status": "completed",
                "invoice_id": f"invoice_{d['invoice_id']}",
                "amount": str(d["amount"]), "currency": str(d["currency"])}
    return {"event": event.type.value, "timestamp": iso_z(event.occurred_at), "data": data}


def encode_body(payload: dict[str, Any]) -> str:
    """Compact JSON, non-ASCII as is: byte for byte what ``JSON.stringify(JSON.parse(body))`` gives back."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def sign_body(secret: str, body: bytes) -> str:
    """The ``X-Signature`` value: lowercase hex HMAC-SHA256(secret, body)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def sign_timestamped(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Webhook-Signature`` value: ``v1=`` + hex HMAC-SHA256(secret, "<timestamp>." + body)."""
    message = str(timestamp).encode("ascii") + b"." + body
    return "v1=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_headers(secret: str, body: bytes, *, timestamp: int) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign_body(secret, body), TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_V1_HEADER: sign_timestamped(secret, timestamp, body)}


def verify_signature(secret: str, body: bytes, headers: dict[str, str], *, now: int,
                     tolerance: int = DEFAULT_TOLERANCE) -> bool:
    """The receiver's check (the reference for docs/webhooks.md): the timestamped signature matches in
    constant time and the timestamp is within ``tolerance`` seconds of ``now``. Header names are
    case-insensitive."""
    lower = {k.lower(): v for k, v in headers.items()}
    raw_ts, given = lower.get(TIMESTAMP_HEADER.lower(), ""), lower.get(SIGNATURE_V1_HEADER.lower(), "")
    if not raw_ts.isdigit() or abs(now - int(raw_ts)) > tolerance:
        return False
    return hmac.compare_digest(sign_timestamped(secret, int(raw_ts), body), given)
