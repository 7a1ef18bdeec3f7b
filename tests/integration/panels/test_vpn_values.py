"""The port's value objects refuse input that panels would silently misread (kept beside the panel tests
because this helper owns only these paths)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from vpnsmm.adapters.panels.links import Transport, decode_vmess_link, trojan_link, vless_link, vmess_link
from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.vpn import ClientLimits, ClientSpec, validate_client_key


@pytest.mark.parametrize("key", ["ab", "Acc-1", "-acc", "acc 1", "a" * 33, "acc@1", 42])
def test_bad_client_keys(key: object) -> None:
    with pytest.raises(ValidationError):
        validate_client_key(key)


def test_zero_limits_are_refused_because_panels_read_zero_as_unlimited() -> None:
    with pytest.raises(ValidationError):
        ClientLimits(traffic_limit_bytes=0)
    with pytest.raises(ValidationError):
        ClientLimits(device_limit=0)
    with pytest.raises(ValidationError):
        ClientLimits(traffic_limit_bytes=1.5)  # type: ignore[arg-type]


def test_expiry_must_be_aware_and_is_normalised_to_utc_seconds() -> None:
    with pytest.raises(ValidationError):
        ClientLimits(expires_at=datetime(2025, 1, 1))
    tehran = timezone(timedelta(hours=3, minutes=30))
    limits = ClientLimits(expires_at=datetime(2025, 1, 1, 3, 30, 0, 999_999, tzinfo=tehran))
    assert limits.expires_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert limits.expires_at is not None and limits.expires_at.tzinfo is UTC


def test_note_length() -> None:
    ClientSpec("acc-1", note="x" * 500)
    with pytest.raises(ValidationError):
        ClientSpec("acc-1", note="x" * 501)


def test_link_formats() -> None:
    t = Transport(host="2001:db8::1", port=443, network="ws", security="tls", sni="cdn.example.com",
                  path="/ray", host_header="cdn.example.com")
    link = vless_link("uuid-1", t, "my vpn", flow="xtls-rprx-vision")
    assert link.startswith("vless://uuid-1@[2001:db8::1]:443?type=ws&encryption=none&path=%2Fray")
    assert "flow=" not in link  # flow only for tcp
    assert link.endswith("#my%20vpn")
    assert trojan_link("p@ss/word", t, "r").startswith("trojan://p%40ss%2Fword@")
    decoded = decode_vmess_link(vmess_link("uuid-2", t, "r"))
    assert decoded["v"] == "2" and decoded["port"] == 443 and decoded["tls"] == "tls" and decoded["net"] == "ws"
