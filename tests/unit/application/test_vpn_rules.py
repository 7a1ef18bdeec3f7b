"""VPN selling rules without a database: account transitions and usage folding, server ranking, plan prices,
sealed credentials, and the subscription formats."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from vpnsmm.adapters.panels.links import Transport, trojan_link, vless_link, vmess_link
from vpnsmm.adapters.panels.registry import FernetSecretBox, PanelRegistry
from vpnsmm.application.vpn import SubscriptionFeed
from vpnsmm.domain.errors import InvalidTransitionError, ValidationError
from vpnsmm.domain.money import Currency, Money
from vpnsmm.domain.vpn import UsageSnapshot
from vpnsmm.domain.vpn_sales import (
    GIB,
    AccountStatus,
    AddOnKind,
    Plan,
    Server,
    ServerKind,
    UsageEventKind,
    VpnAccount,
    account_id_of,
    rank_servers,
)
from vpnsmm.entrypoints.http.routes.subscription import parse_link, pick_format, render_feed

NOW = datetime(2026, 1, 1, tzinfo=UTC)
IRR = Currency.IRR


def _plan(**kw: object) -> Plan:
    options: dict[str, object] = {"name": "P", "prices": {IRR: Money(100, IRR)}, "duration_days": 30,
                                  "traffic_bytes": 10 * GIB, "created_at": NOW,
                                  "extra_gb_prices": {IRR: Money(7, IRR)}, "id": 1}
    options.update(kw)
    return Plan(**options)  # type: ignore[arg-type]


def _server(id: int, **kw: object) -> Server:
    options: dict[str, object] = {"kind": ServerKind.FAKE, "name": f"s{id}", "address": "x", "credentials": "",
                                  "created_at": NOW, "id": id}
    options.update(kw)
    return Server(**options)  # type: ignore[arg-type]


def _account(**kw: object) -> VpnAccount:
    account = VpnAccount.open(user_id=7, plan=_plan(**kw), server=_server(1), now=NOW, token="t")
    account.id = 42
    account.provisioned(remote_id="r", links=["vless://x"], config=None, subscription_url=None, now=NOW)
    return account


def _snap(up: int, down: int, at: datetime = NOW, reset: bool = False) -> UsageSnapshot:
    return UsageSnapshot("acc-42", up, down, at, counters_reset=reset)


def test_usage_accumulates_across_counter_resets() -> None:
    account = _account()
    account.record_usage(_snap(100, 200))
    account.record_usage(_snap(150, 260))
    account.record_usage(_snap(10, 20))  # the panel reset its counters
    account.record_usage(_snap(30, 20, reset=True))  # the adapter says so even though upload grew
    assert (account.used_upload, account.used_download) == (150 + 10 + 30, 260 + 20 + 20)


def test_quota_thresholds_fire_once_each() -> None:
    account = _account()
    assert account.record_usage(_snap(0, 5 * GIB)) == []
    events = account.record_usage(_snap(0, 10 * GIB))
    assert [(e.kind, e.threshold) for e in events] == [(UsageEventKind.TRAFFIC, 80), (UsageEventKind.TRAFFIC, 100)]
    assert account.status is AccountStatus.LIMITED
    account.add_traffic(5 * GIB, NOW)
    assert account.status is AccountStatus.ACTIVE


def test_renew_extends_from_the_later_of_now_and_expiry() -> None:
    account = _account()
    account.renew(days=30, traffic_bytes=GIB, now=NOW + timedelta(days=10))
    assert account.expires_at == NOW + timedelta(days=60) and account.pending_reset
    late = _account()
    late.check_expiry(NOW + timedelta(days=40))
    assert late.status is AccountStatus.EXPIRED
    late.renew(days=30, traffic_bytes=None, now=NOW + timedelta(days=40))
    assert late.expires_at == NOW + timedelta(days=70) and late.status is AccountStatus.ACTIVE
    late.add_days(5, NOW + timedelta(days=41))
    assert late.expires_at == NOW + timedelta(days=75)


def test_revoked_is_final_and_disabled_survives_usage() -> None:
    account = _account()
    account.disable(NOW)
    account.record_usage(_snap(1, 1))
    assert account.status is AccountStatus.DISABLED and not account.client_spec().enabled
    account.enable(NOW)
    assert account.status is AccountStatus.ACTIVE and account.client_spec().enabled
    account.revoke(NOW)
    with pytest.raises(InvalidTransitionError):
        account.renew(days=1, traffic_bytes=None, now=NOW)
    with pytest.raises(InvalidTransitionError):
        account.enable(NOW)


def test_ranking_skips_full_down_inactive_and_other_groups_and_honours_weight() -> None:
    servers = [_server(1, capacity=2), _server(2, weight=2), _server(3, online=False), _server(4, active=False),
               _server(5, group="other"), _server(6, location="NL")]
    assert [s.id for s in rank_servers(servers, {1: 2, 2: 1, 6: 1}, group="default")] == [2, 6]  # 1/2 < 1/1
    assert [s.id for s in rank_servers(servers, {1: 2, 2: 3, 6: 1}, group="default")] == [6, 2]  # 3/2 > 1/1
    loads = {1: 2, 2: 3, 6: 1}
    assert [s.id for s in rank_servers(servers, loads, group="default", location="nl")] == [6]


def test_plan_prices_and_add_ons() -> None:
    plan = _plan()
    assert plan.price_in(IRR) == Money(100, IRR)
    with pytest.raises(ValidationError):
        plan.price_in(Currency.USD)
    addon = plan.addon(AddOnKind.TRAFFIC, 3, IRR)
    assert addon.price == Money(21, IRR) and addon.traffic_bytes == 3 * GIB
    with pytest.raises(ValidationError):
        plan.addon(AddOnKind.DAYS, 1, IRR)
    with pytest.raises(ValidationError):
        _plan(prices={IRR: Money(-1, IRR)})
    assert account_id_of("acc-12") == 12 and account_id_of("acc-012") is None and account_id_of("bob") is None


def test_credentials_are_sealed_and_tied_to_the_secret() -> None:
    box = FernetSecretBox("one secret")
    sealed = box.seal({"password": "hunter2"})
    assert "hunter2" not in sealed and box.open(sealed) == {"password": "hunter2"}
    with pytest.raises(ValidationError):
        FernetSecretBox("another secret").open(sealed)
    registry = PanelRegistry(box)
    settings, creds = registry.prepare(ServerKind.WIREGUARD, {}, {})
    assert settings["render_only"] is True and len(base64.b64decode(creds["private_key"])) == 32
    with pytest.raises(ValidationError):
        registry.prepare(ServerKind.XUI, {"inbound_id": 1}, {"username": "a"})


def _feed(links: list[str], kind: ServerKind = ServerKind.XUI, config: str | None = None) -> SubscriptionFeed:
    return SubscriptionFeed(account=_account(), kind=kind, links=links, config=config, userinfo={})


def test_subscription_formats() -> None:
    t = Transport(host="h.example", port=443, network="ws", security="tls", sni="h.example", path="/ws")
    reality = Transport(host="r.example", port=8443, security="reality", sni="www.x.com", fingerprint="chrome",
                        reality_public_key="PBK", reality_short_id="ab")
    links = [vless_link("11111111-1111-1111-1111-111111111111", reality, "acc-1", flow="xtls-rprx-vision"),
             vmess_link("22222222-2222-2222-2222-222222222222", t, "acc-1"), trojan_link("p@ss", t, "acc-1")]
    parsed = [parse_link(link) for link in links]
    assert [p["protocol"] for p in parsed if p] == ["vless", "vmess", "trojan"]
    assert parsed[2] is not None and parsed[2]["secret"] == "p@ss"
    body, media, _ = render_feed(_feed(links), "base64")
    assert base64.b64decode(body).decode().splitlines() == links and media.startswith("text/plain")
    clash, _, ext = render_feed(_feed(links), "clash")
    assert ext == "yaml" and '"reality-opts": {"public-key": "PBK", "short-id": "ab"}' in clash
    assert '"name": "acc-1 2"' in clash  # names made unique
    singbox = json.loads(render_feed(_feed(links), "singbox")[0])
    assert singbox["outbounds"][1]["tls"]["reality"]["public_key"] == "PBK"
    assert singbox["outbounds"][2]["transport"] == {"type": "ws", "path": "/ws"}
    assert render_feed(_feed([], ServerKind.WIREGUARD, "[Interface]\n"), "clash")[0] == "[Interface]\n"
    assert pick_format(None, "ClashForAndroid/2.5") == "clash"
    assert pick_format(None, "SFA/1.9 (sing-box 1.9)") == "singbox"
    assert pick_format(None, "v2rayNG/1.8") == "base64"
    with pytest.raises(ValidationError):
        pick_format("xml", "")
