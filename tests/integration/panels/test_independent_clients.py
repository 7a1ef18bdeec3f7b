"""Our in-process 3x-UI and Marzban fakes, driven over a real socket by independent client libraries from PyPI
(py3xui for 3x-UI 3.x, MarzbanAPI -- the ``marzban`` package -- for Marzban 0.8) side by side with our adapters.

What one writes, the other must read back the same: this checks the fakes (and so the adapters tested against
them) against someone else's reading of the panels' APIs. Divergences they found and we fixed in the fakes:
3x-UI 3.x ``GET clients/list`` and ``POST clients/onlines`` were missing; Marzban ``GET /api/user/{u}/usage`` and
``GET /api/inbounds`` were missing. (marzpy 0.0.5 was tried first: its User model rejects the ``admin`` and
``auto_delete_in_days`` fields Marzban 0.8.4 returns, so it cannot read a real 0.8.4 panel either.)
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import py3xui
import pytest
from marzban import MarzbanAPI, ProxySettings, UserCreate, UserModify

from tests.integration.panels.harness import Clock, xui_state
from tests.support.asgi_server import serve
from vpnsmm.adapters.panels.fake_marzban import FakeMarzbanState, create_fake_marzban_app
from vpnsmm.adapters.panels.fake_xui import FakeXuiState, XuiGeneration, create_fake_xui_app
from vpnsmm.adapters.panels.marzban import MarzbanPanel
from vpnsmm.adapters.panels.xui import XuiApi, XuiPanel
from vpnsmm.domain.errors import NotFoundError
from vpnsmm.domain.vpn import ClientLimits, ClientSpec, ClientStatus

GIB = 2**30
EXPIRY = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BASE = "/AbCdEf"


def usage_totals(pages: list[list[object]]) -> dict[str, int]:
    return {s.key: s.total_bytes for p in pages for s in p}  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------ 3x-UI 3.x + py3xui
class Xui:
    def __init__(self, state: FakeXuiState, ours: XuiPanel, sdk: py3xui.AsyncApi) -> None:
        self.state, self.ours, self.sdk = state, ours, sdk


@pytest.fixture(params=["cookie+csrf", "api-token"])
async def xui(request: pytest.FixtureRequest) -> AsyncIterator[Xui]:
    token = "tok-3x" if request.param == "api-token" else None
    state = xui_state(XuiGeneration.V3, Clock(datetime(2026, 1, 1, tzinfo=UTC)), base_path=BASE, api_token=token)
    async with serve(create_fake_xui_app(state)) as url, httpx.AsyncClient(base_url=url, timeout=5) as http:
        ours = XuiPanel(http, "admin", "admin", inbound_id=1, base_path=BASE, api_token=token,
                        public_host="vpn.example.com", flow="xtls-rprx-vision", now=state.now)
        if token:
            sdk = py3xui.AsyncApi(f"{url}{BASE}", token=token, use_tls_verify=False)
        else:
            sdk = py3xui.AsyncApi(f"{url}{BASE}", "admin", "admin", use_tls_verify=False)
            await sdk.login()  # GET csrf-token, then POST login with X-CSRF-Token, as 3.x demands
        yield Xui(state, ours, sdk)


async def test_py3xui_reads_what_our_adapter_wrote(xui: Xui) -> None:
    spec = ClientSpec("acc-1", ClientLimits(traffic_limit_bytes=30 * GIB, expires_at=EXPIRY, device_limit=2),
                      note="order 1")
    ours = await xui.ours.ensure_client(spec)
    assert await xui.ours.api_generation() is XuiApi.V3
    theirs = await xui.sdk.client.get_by_email("acc-1")
    assert theirs is not None
    assert (theirs.email, str(theirs.id), theirs.inbound_id) == ("acc-1", ours.remote_id, 1)
    assert theirs.total_gb == 30 * GIB  # bytes, despite the name
    assert theirs.expiry_time == int(EXPIRY.timestamp()) * 1000  # Unix milliseconds
    assert (theirs.limit_ip, theirs.enable, theirs.comment, theirs.flow) == (2, True, "order 1", "xtls-rprx-vision")
    assert theirs.reset == 0 and len(theirs.sub_id) == 16  # auto-renew never left on; a subscription id issued
    status = await xui.sdk.server.get_status()
    assert status.xray.state == "running" and status.mem.total > 0
    assert (await xui.ours.status()).total_clients == 1


async def test_our_adapter_reads_and_adopts_a_client_py3xui_created(xui: Xui) -> None:
    made = str(uuid.uuid4())
    await xui.sdk.client.add(1, [py3xui.Client(id=made, email="acc-2", enable=True, total_gb=5 * GIB,
                                               expiry_time=int(EXPIRY.timestamp()) * 1000, limit_ip=1,
                                               flow="xtls-rprx-vision", sub_id="py3xuisubid00001")])
    got = await xui.ours.get_client("acc-2")
    assert got.remote_id == made and got.status is ClientStatus.ACTIVE
    assert got.limits == ClientLimits(traffic_limit_bytes=5 * GIB, expires_at=EXPIRY, device_limit=1)
    assert got.links[0].startswith(f"vless://{made}@vpn.example.com:443")
    # ensuring the same key adopts the existing client: same uuid, no duplicate, new limits visible to py3xui
    adopted = await xui.ours.ensure_client(ClientSpec("acc-2", ClientLimits(traffic_limit_bytes=8 * GIB)))
    assert adopted.remote_id == made and len(xui.state.email_inbound) == 1
    again = await xui.sdk.client.get_by_email("acc-2")
    assert again is not None and again.total_gb == 8 * GIB and again.expiry_time == 0
    assert [c.email for c in await xui.sdk.client.get_traffic_by_id(made)] == ["acc-2"]


async def test_whole_object_updates_resets_and_deletes_agree(xui: Xui) -> None:
    await xui.ours.ensure_client(ClientSpec("acc-3", ClientLimits(traffic_limit_bytes=GIB)))
    client = await xui.sdk.client.get_by_email("acc-3")
    assert client is not None
    client.enable, client.total_gb = False, 2 * GIB
    await xui.sdk.client.update(str(client.id), client)  # updateClient replaces the whole object
    seen = await xui.ours.get_client("acc-3")
    assert seen.status is ClientStatus.DISABLED and seen.limits.traffic_limit_bytes == 2 * GIB
    assert (await xui.ours.enable("acc-3")).status is ClientStatus.ACTIVE
    xui.state.add_traffic("acc-3", 300, 700)
    assert usage_totals([list(p) async for p in xui.ours.usage(["acc-3"])]) == {"acc-3": 1000}
    await xui.sdk.client.reset_stats(1, "acc-3")
    assert usage_totals([list(p) async for p in xui.ours.usage(["acc-3"])]) == {"acc-3": 0}
    xui.state.online.add("acc-3")
    assert await xui.sdk.client.online() == ["acc-3"]
    await xui.sdk.client.delete(1, str(client.id))
    with pytest.raises(NotFoundError):
        await xui.ours.get_client("acc-3")
    await xui.ours.ensure_client(ClientSpec("acc-4"))
    assert await xui.ours.remove_client("acc-4") is True
    with pytest.raises(ValueError, match="record not found"):  # py3xui's way of surfacing success:false
        await xui.sdk.client.get_by_email("acc-4")


# ------------------------------------------------------------------------------------------ Marzban 0.8 + MarzbanAPI
class Mz:
    def __init__(self, state: FakeMarzbanState, ours: MarzbanPanel, sdk: MarzbanAPI, token: str) -> None:
        self.state, self.ours, self.sdk, self.token = state, ours, sdk, token


@pytest.fixture
async def mz() -> AsyncIterator[Mz]:
    state = FakeMarzbanState(now=Clock(datetime(2026, 1, 1, tzinfo=UTC)))
    async with serve(create_fake_marzban_app(state)) as url, httpx.AsyncClient(base_url=url, timeout=5) as http:
        ours = MarzbanPanel(http, "admin", "secret", proxies={"vless": {"flow": "xtls-rprx-vision"}},
                            subscription_base_url="https://marzban.example.com", now=state.now)
        sdk = MarzbanAPI(base_url=url)
        try:
            token = (await sdk.get_token("admin", "secret")).access_token  # OAuth2 password form
            yield Mz(state, ours, sdk, token)
        finally:
            await sdk.close()


async def test_marzbanapi_reads_what_our_adapter_wrote(mz: Mz) -> None:
    ours = await mz.ours.ensure_client(ClientSpec("acc-1", ClientLimits(traffic_limit_bytes=30 * GIB,
                                                                        expires_at=EXPIRY), note="order 1"))
    user = await mz.sdk.get_user("acc-1", mz.token)
    assert (user.username, user.status, user.note) == ("acc-1", "active", "order 1")
    assert user.data_limit == 30 * GIB and user.expire == int(EXPIRY.timestamp())  # bytes, Unix seconds
    assert user.data_limit_reset_strategy == "no_reset"  # renewals are ours, never the panel's
    assert user.proxies is not None and user.proxies["vless"].flow == "xtls-rprx-vision"
    assert user.links == list(ours.links) and ours.subscription_url == f"https://marzban.example.com{user.subscription_url}"
    stats = await mz.sdk.get_system_stats(mz.token)
    assert (stats.total_user, stats.users_active) == (1, 1)
    assert "vless" in await mz.sdk.get_inbounds(mz.token)


async def test_our_adapter_adopts_a_user_marzbanapi_created_and_both_see_changes(mz: Mz) -> None:
    created = await mz.sdk.add_user(UserCreate(username="acc-2", proxies={"vless": ProxySettings()},
                                               inbounds={"vless": ["VLESS TCP REALITY"]}, data_limit=5 * GIB,
                                               expire=int(EXPIRY.timestamp())), mz.token)
    got = await mz.ours.get_client("acc-2")
    assert got.limits == ClientLimits(traffic_limit_bytes=5 * GIB, expires_at=EXPIRY)
    adopted = await mz.ours.ensure_client(ClientSpec("acc-2", ClientLimits(traffic_limit_bytes=9 * GIB)))
    assert adopted.remote_id == "acc-2" and len(mz.state.users) == 1
    assert (await mz.sdk.get_user("acc-2", mz.token)).data_limit == 9 * GIB
    await mz.sdk.modify_user("acc-2", UserModify(status="disabled"), mz.token)
    assert (await mz.ours.get_client("acc-2")).status is ClientStatus.DISABLED
    # a reset through the SDK re-enables a disabled user (the upstream quirk); our reset does not
    reset = await mz.sdk.reset_user_data_usage("acc-2", mz.token)
    assert reset.status == "active"
    await mz.ours.disable("acc-2")
    assert (await mz.ours.reset_traffic("acc-2")).status is ClientStatus.DISABLED
    assert (await mz.sdk.get_user("acc-2", mz.token)).status == "disabled"
    # revoking through our adapter issues a new proxy id the SDK sees
    assert created.proxies is not None
    before = (await mz.sdk.get_user("acc-2", mz.token)).proxies
    await mz.ours.rotate_credentials("acc-2")
    after = (await mz.sdk.get_user("acc-2", mz.token)).proxies
    assert before is not None and after is not None and before["vless"].id != after["vless"].id


async def test_usage_and_paged_listing_agree(mz: Mz) -> None:
    for n in range(7):
        await mz.ours.ensure_client(ClientSpec(f"acc-{n + 10}"))
        mz.state.add_traffic(f"acc-{n + 10}", 1000 * (n + 1))
    page = await mz.sdk.get_users(mz.token, offset=2, limit=3)
    assert page.total == 7 and [u.username for u in page.users] == ["acc-12", "acc-13", "acc-14"]
    ours = usage_totals([list(p) async for p in mz.ours.usage(None, page_size=3)])
    assert ours == {u.username: u.used_traffic for u in (await mz.sdk.get_users(mz.token)).users}
    usage = await mz.sdk.get_user_data_usage("acc-12", mz.token)
    assert sum(u.used_traffic for u in usage.usages) == ours["acc-12"] == 3000


async def test_error_bodies_are_the_documented_ones(mz: Mz) -> None:
    with pytest.raises(httpx.HTTPStatusError) as missing:
        await mz.sdk.get_user("acc-404", mz.token)
    assert missing.value.response.status_code == 404
    assert missing.value.response.json() == {"detail": "User not found"}
    await mz.sdk.add_user(UserCreate(username="acc-5", proxies={"vless": ProxySettings()}), mz.token)
    with pytest.raises(httpx.HTTPStatusError) as taken:
        await mz.sdk.add_user(UserCreate(username="acc-5", proxies={"vless": ProxySettings()}), mz.token)
    assert taken.value.response.status_code == 409
    assert taken.value.response.json() == {"detail": "User already exists"}
    with pytest.raises(httpx.HTTPStatusError) as bad:
        await mz.sdk.get_user_data_usage("acc-5", mz.token, start_date=datetime(2026, 2, 1, tzinfo=UTC),
                                         end_date=datetime(2026, 1, 1, tzinfo=UTC))
    assert bad.value.response.status_code == 400
    # our adapter maps the same answers to domain errors
    with pytest.raises(NotFoundError):
        await mz.ours.get_client("acc-404")
