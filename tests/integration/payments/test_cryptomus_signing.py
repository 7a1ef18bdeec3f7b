"""Known-answer tests for the Cryptomus signing helpers (PHP json_encode compatibility)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from vpnsmm.adapters.payments.cryptomus_signing import php_json_encode, request_sign, sign_matches, webhook_sign


def test_request_sign_known_answers() -> None:
    # md5(base64('{"a":"b"}') . 'key') and md5(base64('') . 'key'), computed independently
    assert request_sign(b'{"a":"b"}', "key") == "91ead20648d3d04e43994491e33ae62f"
    assert request_sign(b"", "key") == "3c6e0b8a9c15224a8228b9a98ca1531d"
    assert request_sign(b'{"a": "b"}', "key") != request_sign(b'{"a":"b"}', "key")  # bytes, not meaning


@pytest.mark.parametrize(("data", "php"), [
    ({"url": "https://x.example/a"}, '{"url":"https:\\/\\/x.example\\/a"}'),
    ({"name": "علی", "note": "«ok» ✓"}, '{"name":"علی","note":"«ok» ✓"}'),
    ({"ls": "a\u2028b\u2029c"}, '{"ls":"a\\u2028b\\u2029c"}'),
    ({"ctl": "a\nb\t\"q\"\\"}, '{"ctl":"a\\nb\\t\\"q\\"\\\\"}'),
    ({"empty": {}, "list": [1, {}], "none": None, "t": True, "n": 10},
     '{"empty":[],"list":[1,[]],"none":null,"t":true,"n":10}'),
    ({"b": 1, "a": 2}, '{"b":1,"a":2}'),  # key order as received, never sorted
])
def test_php_json_encode_matches_php(data: object, php: str) -> None:
    assert php_json_encode(data) == php


def test_webhook_sign_is_over_the_php_encoding() -> None:
    payload = {"uuid": "u-1", "from": "a/b", "additional_data": "پرداخت"}
    php = '{"uuid":"u-1","from":"a\\/b","additional_data":"پرداخت"}'
    expected = hashlib.md5(base64.b64encode(php.encode()) + b"k").hexdigest()
    assert webhook_sign(payload, "k") == expected


def test_sign_matches_is_strict() -> None:
    good = request_sign(b"{}", "k")
    assert sign_matches(good, good)
    assert not sign_matches(good, good.upper())
    assert not sign_matches(good, good[:-1])
    assert not sign_matches(good, None)
    assert not sign_matches(good, 5)
    assert not sign_matches(good, "ж" * 32)
