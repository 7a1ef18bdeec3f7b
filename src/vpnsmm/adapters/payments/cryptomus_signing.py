"""Cryptomus signatures: ``sign = md5(base64(json) + API_KEY)`` as lowercase hex.

Two encodings matter:

* **Requests** are signed over the exact bytes we send (:func:`request_sign`), whatever encoder made them.
* **Webhooks** carry ``sign`` inside the body. Cryptomus' own PHP recipe decodes the body to an array, drops
  ``sign`` and re-encodes with ``json_encode($data, JSON_UNESCAPED_UNICODE)``. :func:`php_json_encode` reproduces
  that output: compact separators, ``/`` escaped as ``\\/``, non-ASCII kept raw (the flag), U+2028/U+2029 still
  escaped (PHP only leaves them raw with JSON_UNESCAPED_LINE_TERMINATORS), key order as received, and an empty
  object written as ``[]`` (``json_decode(..., true)`` turns ``{}`` into an empty PHP array).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

__all__ = ["php_json_encode", "request_sign", "sign_matches", "webhook_sign"]


def _php_shape(value: Any) -> Any:
    if isinstance(value, dict):
        return [] if not value else {k: _php_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_php_shape(v) for v in value]
    return value


def php_json_encode(data: Any) -> str:
    """What PHP ``json_encode($data, JSON_UNESCAPED_UNICODE)`` prints for ``json_decode($body, true)``."""
    text = json.dumps(_php_shape(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # "/" and the two line terminators can only occur inside JSON strings, so plain replacement is exact.
    return text.replace("/", "\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def request_sign(body: bytes, api_key: str) -> str:
    """The ``sign`` header for a request whose body is exactly ``body`` (``b""`` for no body)."""
    # md5 is the provider's protocol, not our choice of hash.
    return hashlib.md5(base64.b64encode(body) + api_key.encode(), usedforsecurity=False).hexdigest()


def webhook_sign(payload_without_sign: dict[str, Any], api_key: str) -> str:
    """The ``sign`` Cryptomus puts into a webhook whose other fields are ``payload_without_sign``."""
    return request_sign(php_json_encode(payload_without_sign).encode(), api_key)


def sign_matches(expected: str, received: object) -> bool:
    """Constant-time comparison; anything that is not a string never matches."""
    if not isinstance(received, str):
        return False
    return hmac.compare_digest(expected.encode(), received.encode("utf-8", "surrogatepass"))
