"""XuiPanel: the VpnPanel port on one inbound of a 3x-UI panel (2.x inbound API or 3.x clients API).

Quirks handled here (details in ``docs/adapters/3x-ui.md``):

* Business errors arrive as HTTP 200 ``{"success": false, "msg": "..."}``; we parse ``success``, never the status.
* The session is a cookie (name changed across versions, so we rely on the client's cookie jar). An expired
  session shows up as 401 (XHR header), 307 (legacy without it) or 404 (2.8.4+ hides the API); we log in
  again and retry **once**. 3.x needs a CSRF token for ``/login`` and cookie-authenticated POSTs, or an
  API token (``Authorization: Bearer``) that skips login and CSRF altogether.
* The generation is probed after the first login: ``/panel/api/clients/list/paged`` answers -> 3.x;
  ``GET /panel/api/server/status`` 404 -> <= 2.6 (``POST {base}/server/status``); else 2.7-2.9.
* Units: ``totalGB`` is **bytes**, ``expiryTime`` **Unix ms**, both 0 = unlimited/never; ``limitIp`` 0 = no cap.
* ``enable`` is both our switch and the panel's depletion flag: a client with ``enable=false`` whose quota or
  expiry is exhausted is reported LIMITED/EXPIRED and counted as enabled by us; otherwise DISABLED.
* 2.x ``updateClient`` replaces the whole client, so single-client operations other than ``ensure_client``
  read the inbound first (one ``GET /get/:id``, linear in the inbound's size). ``ensure_client`` only needs
  ``getClientTraffics/:email``, which is what bulk provisioning should use.
"""

from __future__ import annotations

import json
import secrets
import uuid as uuidlib
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import httpx
import msgspec

from vpnsmm.adapters.panels._http import json_body, send
from vpnsmm.adapters.panels.links import Transport, share_link
from vpnsmm.application.ports.vpn_panel import PanelCapabilities, ProvisionedClient, VpnPanel
from vpnsmm.domain.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    UpstreamRejectedError,
    UpstreamUnavailableError,
)
from vpnsmm.domain.vpn import (
    ClientLimits,
    ClientSpec,
    ClientStatus,
    ServerStatus,
    UsageSnapshot,
    validate_client_key,
)

PANEL = "3x-ui"
_SMALL_KEY_SET = 50  # below this, per-key lookups beat reading the whole inbound


class XuiApi(StrEnum):
    """The API generation found by probing."""

    LEGACY = "<=2.6"
    V2 = "2.7-2.9"
    V3 = "3.x"


# -- private wire types -------------------------------------------------------------------------------------
class _Envelope(msgspec.Struct):
    success: bool
    msg: str = ""
    obj: Any = None


# Bounded so that nonsense from the panel is "an answer we cannot parse" (UpstreamUnavailableError), never a
# crash or a ValidationError blamed on our caller. expiryTime may be negative: a start-on-first-use duration.
_Bytes = Annotated[int, msgspec.Meta(ge=0)]
_Millis = Annotated[int, msgspec.Meta(le=253_402_300_799_999)]  # up to 9999-12-31


class _Traffic(msgspec.Struct, rename=None):
    email: str
    up: _Bytes = 0
    down: _Bytes = 0
    enable: bool = True
    total: _Bytes = 0
    expiryTime: _Millis = 0
    uuid: str = ""
    subId: str = ""
    inboundId: int = 0


class _Client(msgspec.Struct, omit_defaults=False):
    email: str
    id: str = ""
    password: str = ""
    security: str = ""
    flow: str = ""
    limitIp: _Bytes = 0
    totalGB: _Bytes = 0
    expiryTime: _Millis = 0
    enable: bool = True
    tgId: int = 0
    subId: str = ""
    comment: str = ""
    reset: int = 0


class _V3Get(msgspec.Struct):
    client: _Client
    inboundIds: list[int] = msgspec.field(default_factory=list)
    usedTraffic: int = 0


class _Slim(msgspec.Struct):
    email: str
    traffic: _Traffic | None = None


class _Page(msgspec.Struct):
    items: list[_Slim]
    filtered: int = 0


class _InboundMeta(msgspec.Struct):
    id: int
    protocol: str
    port: int
    remark: str = ""
    listen: str = ""
    streamSettings: str = "{}"


class _Inbound(_InboundMeta):
    settings: str = "{}"
    clientStats: list[_Traffic] = msgspec.field(default_factory=list)


def _ms(value: datetime | None) -> int:
    return 0 if value is None else int(value.timestamp()) * 1000


def _from_ms(value: int) -> datetime | None:
    # Negative = "start on first use" (a duration); we never set it, and it is not an instant.
    return None if value <= 0 else datetime.fromtimestamp(value // 1000, UTC)


def _convert(obj: Any, kind: type[Any]) -> Any:
    try:
        return msgspec.convert(obj, kind)
    except msgspec.ValidationError as exc:
        raise UpstreamUnavailableError(f"{PANEL}: unexpected payload: {exc}", details={"panel": PANEL}) from exc


def _settings_clients(settings: str) -> list[dict[str, Any]]:
    """The ``clients`` of an inbound's JSON-string settings; UpstreamUnavailableError if they are not objects."""
    try:
        decoded = json.loads(settings or "{}")
    except ValueError as exc:
        raise UpstreamUnavailableError(f"{PANEL}: inbound settings are not JSON", details={"panel": PANEL}) from exc
    clients = decoded.get("clients", []) if isinstance(decoded, dict) else None
    if not isinstance(clients, list) or not all(isinstance(c, dict) for c in clients):
        raise UpstreamUnavailableError(f"{PANEL}: inbound settings.clients is not a list of objects",
                                       details={"panel": PANEL})
    return clients


class XuiPanel(VpnPanel):
    """One 3x-UI inbound as a VpnPanel. Our client key is the 3x-UI ``email`` (unique across the panel).

    ``client`` must be configured with the panel's ``base_url`` (scheme, host, port); ``base_path`` is the
    ``webBasePath`` (e.g. ``"/AbCdEf"``). ``api_token`` (3.x only) switches to Bearer auth. ``public_host`` is the
    address put into share links (the API does not return links); ``subscription_base_url`` (e.g.
    ``"https://sub.example.com:2096/sub/"``) is prefixed to the client's ``subId``. ``flow`` is set on
    vless clients (``"xtls-rprx-vision"`` for REALITY/TLS over tcp).
    """

    def __init__(self, client: httpx.AsyncClient, username: str, password: str, *, inbound_id: int,
                 base_path: str = "", api_token: str | None = None, public_host: str | None = None,
                 subscription_base_url: str | None = None, flow: str = "",
                 now: Callable[[], datetime] | None = None) -> None:
        self._http = client
        self._username, self._password = username, password
        self._inbound_id = inbound_id
        self._base = base_path.rstrip("/")
        self._api_token = api_token
        self._public_host = public_host
        self._sub_base = subscription_base_url
        self._flow = flow
        self._now = now or (lambda: datetime.now(UTC))
        self._logged_in = api_token is not None
        self._csrf: str | None = None
        self._api: XuiApi | None = None
        self._meta: _InboundMeta | None = None
        self.logins = 0  # observable for tests and metrics

    @property
    def capabilities(self) -> PanelCapabilities:
        return PanelCapabilities(kind=PANEL, enforces_traffic_limit=True, enforces_expiry=True,
                                 stores_device_limit=True, has_subscription_url=self._sub_base is not None)

    # -- transport, auth and probing -----------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        headers = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}
        if self._api_token:
            headers["Authorization"] = f"Bearer {self._api_token}"
        elif self._csrf:
            headers["X-CSRF-Token"] = self._csrf
        return headers

    async def _login(self) -> None:
        """Log in with username/password. 3.x refuses /login without a CSRF token (403): fetch one and retry."""
        if self._api_token:
            self._logged_in = True
            return
        body = {"username": self._username, "password": self._password}
        response = await send(self._http, "POST", f"{self._base}/login", panel=PANEL, json=body,
                              headers=self._headers())
        if response.status_code == 403:
            token = await send(self._http, "GET", f"{self._base}/csrf-token", panel=PANEL, headers=self._headers())
            env = _convert(json_body(token, panel=PANEL), _Envelope)
            if not env.success or not isinstance(env.obj, str):
                raise UpstreamUnavailableError(f"{PANEL}: could not obtain a CSRF token", details={"panel": PANEL})
            self._csrf = env.obj
            response = await send(self._http, "POST", f"{self._base}/login", panel=PANEL, json=body,
                                  headers=self._headers())
        if response.status_code != 200:
            raise UpstreamUnavailableError(f"{PANEL}: login answered HTTP {response.status_code}",
                                           details={"panel": PANEL})
        env = _convert(json_body(response, panel=PANEL), _Envelope)
        if not env.success:
            raise AuthenticationError(f"{PANEL}: login refused: {env.msg}", details={"panel": PANEL})
        self._logged_in = True
        self.logins += 1

    async def _raw(self, method: str, path: str, *, json_data: Any = None,
                   params: dict[str, Any] | None = None, relogin: bool = True) -> httpx.Response:
        """One authenticated request; on an auth-shaped answer (401/403/404/3xx) log in again and retry once.

        A 404 is ambiguous on 2.8.4+ (expired session or missing route), so it also triggers one re-login;
        a 404 after that is a missing route.
        """
        just_logged_in = not self._logged_in
        if just_logged_in:
            await self._login()
        response = await send(self._http, method, f"{self._base}{path}", panel=PANEL, json=json_data,
                              params=params, headers=self._headers())
        auth_shaped = response.status_code in (401, 403, 404) or 300 <= response.status_code < 400
        if auth_shaped and self._api_token and response.status_code in (401, 403):
            raise AuthenticationError(f"{PANEL}: API token refused", details={"panel": PANEL})
        if auth_shaped and relogin and not just_logged_in and not self._api_token:
            await self._login()
            response = await send(self._http, method, f"{self._base}{path}", panel=PANEL, json=json_data,
                                  params=params, headers=self._headers())
        if response.status_code in (401, 403) or 300 <= response.status_code < 400:
            raise AuthenticationError(f"{PANEL}: still unauthorised after a fresh login ({response.status_code})",
                                      details={"panel": PANEL})
        return response

    async def _call(self, method: str, path: str, *, json_data: Any = None,
                    params: dict[str, Any] | None = None) -> _Envelope:
        response = await self._raw(method, path, json_data=json_data, params=params)
        if response.status_code == 404:
            raise UpstreamRejectedError(f"{PANEL}: {path} does not exist on this panel version",
                                        details={"panel": PANEL, "api": str(self._api)})
        env: _Envelope = _convert(json_body(response, panel=PANEL), _Envelope)
        return env

    async def _obj(self, method: str, path: str, *, json_data: Any = None,
                   params: dict[str, Any] | None = None) -> Any:
        env = await self._call(method, path, json_data=json_data, params=params)
        if not env.success:
            raise UpstreamRejectedError(f"{PANEL}: {env.msg}", details={"panel": PANEL, "msg": env.msg})
        return env.obj

    async def api_generation(self) -> XuiApi:
        """Probe (once) which API generation the panel speaks. Needs a working login."""
        if self._api is not None:
            return self._api
        # Probe on a session we know is fresh, so that a 404 can only mean "no such route".
        await self._login()
        probe = await self._raw("GET", "/panel/api/clients/list/paged", params={"page": 1, "pageSize": 1},
                                relogin=False)
        if probe.status_code == 200 and _convert(json_body(probe, panel=PANEL), _Envelope).success:
            self._api = XuiApi.V3
            return self._api
        probe = await self._raw("GET", "/panel/api/server/status", relogin=False)
        self._api = XuiApi.LEGACY if probe.status_code == 404 else XuiApi.V2
        return self._api

    async def _inbound_meta(self) -> _InboundMeta:
        if self._meta is None:
            obj = await self._obj("GET", f"/panel/api/inbounds/get/{self._inbound_id}")
            self._meta = _convert(obj, _InboundMeta)
            if self._meta.protocol not in ("vless", "vmess", "trojan"):
                raise UpstreamRejectedError(f"{PANEL}: inbound {self._inbound_id} is {self._meta.protocol}; "
                                            "only vless, vmess and trojan are supported", details={"panel": PANEL})
        return self._meta

    # -- reads ------------------------------------------------------------------------------------------------
    async def _traffic(self, key: str) -> _Traffic | None:
        api = await self.api_generation()
        path = (f"/panel/api/clients/traffic/{key}" if api is XuiApi.V3
                else f"/panel/api/inbounds/getClientTraffics/{key}")
        env = await self._call("GET", path)
        if not env.success:
            if "not found" in env.msg.lower():
                return None
            raise UpstreamRejectedError(f"{PANEL}: {env.msg}", details={"panel": PANEL, "msg": env.msg})
        return None if env.obj is None else _convert(env.obj, _Traffic)

    async def _full(self, key: str) -> tuple[_Client, _Traffic]:
        """The whole client object plus its counters; NotFoundError if the key has no client on our inbound."""
        api = await self.api_generation()
        if api is XuiApi.V3:
            env = await self._call("GET", f"/panel/api/clients/get/{key}")
            if not env.success:
                if "not found" in env.msg.lower():
                    raise NotFoundError(f"{PANEL}: no client {key!r}")
                raise UpstreamRejectedError(f"{PANEL}: {env.msg}", details={"panel": PANEL})
            got: _V3Get = _convert(env.obj, _V3Get)
            traffic = await self._traffic(key)
            if traffic is None or self._inbound_id not in got.inboundIds:
                raise NotFoundError(f"{PANEL}: no client {key!r}")
            return got.client, traffic
        inbound: _Inbound = _convert(await self._obj("GET", f"/panel/api/inbounds/get/{self._inbound_id}"),
                                     _Inbound)
        clients = _settings_clients(inbound.settings)
        for raw in clients:
            if str(raw.get("email", "")).lower() == key:
                stats = next((t for t in inbound.clientStats if t.email.lower() == key), None)
                return _convert(raw, _Client), stats or _Traffic(email=key)
        raise NotFoundError(f"{PANEL}: no client {key!r} on inbound {self._inbound_id}")

    # -- writes -------------------------------------------------------------------------------------------------
    async def _add(self, client: _Client) -> _Envelope:
        api = await self.api_generation()
        if api is XuiApi.V3:
            return await self._call("POST", "/panel/api/clients/add",
                                    json_data={"client": msgspec.to_builtins(client),
                                               "inboundIds": [self._inbound_id]})
        settings = json.dumps({"clients": [msgspec.to_builtins(client)]})
        return await self._call("POST", "/panel/api/inbounds/addClient",
                                json_data={"id": self._inbound_id, "settings": settings})

    async def _update(self, primary: str, client: _Client) -> None:
        api = await self.api_generation()
        if api is XuiApi.V3:
            await self._obj("POST", f"/panel/api/clients/update/{client.email}",
                            json_data=msgspec.to_builtins(client))
            return
        settings = json.dumps({"clients": [msgspec.to_builtins(client)]})
        await self._obj("POST", f"/panel/api/inbounds/updateClient/{primary}",
                        json_data={"id": self._inbound_id, "settings": settings})

    def _primary(self, meta: _InboundMeta, client: _Client) -> str:
        return client.password if meta.protocol == "trojan" else client.id

    def _new_client(self, meta: _InboundMeta, spec: ClientSpec) -> _Client:
        secret = str(uuidlib.uuid4())
        return _Client(
            email=spec.key,
            id="" if meta.protocol == "trojan" else secret,
            password=secret.replace("-", "") if meta.protocol == "trojan" else "",
            security="auto" if meta.protocol == "vmess" else "",
            flow=self._flow if meta.protocol == "vless" else "",
            subId=secrets.token_hex(8),
        )

    @staticmethod
    def _apply(client: _Client, limits: ClientLimits, *, enabled: bool, note: str | None = None) -> _Client:
        return msgspec.structs.replace(
            client, totalGB=limits.traffic_limit_bytes or 0, expiryTime=_ms(limits.expires_at),
            limitIp=limits.device_limit or 0, enable=enabled,
            comment=client.comment if note is None else note,
            reset=0)  # never leave 3x-UI's auto-renew on: renewals are the back office's decision

    def _limits(self, client: _Client) -> ClientLimits:
        return ClientLimits(traffic_limit_bytes=client.totalGB or None, expires_at=_from_ms(client.expiryTime),
                            device_limit=client.limitIp or None)

    def _status(self, client: _Client, traffic: _Traffic) -> tuple[ClientStatus, bool]:
        if traffic.enable and client.enable:
            return ClientStatus.ACTIVE, True
        if client.totalGB > 0 and traffic.up + traffic.down >= client.totalGB:
            return ClientStatus.LIMITED, True
        if 0 < client.expiryTime <= int(self._now().timestamp() * 1000):
            return ClientStatus.EXPIRED, True
        return ClientStatus.DISABLED, False

    async def _provisioned(self, client: _Client, traffic: _Traffic) -> ProvisionedClient:
        meta = await self._inbound_meta()
        # The panel may have changed enable (depletion) since we sent the object: counters are the truth.
        client = msgspec.structs.replace(client, enable=client.enable and traffic.enable)
        status, enabled = self._status(client, traffic)
        links: tuple[str, ...] = ()
        if self._public_host:
            stream = json.loads(meta.streamSettings or "{}")
            transport = _transport(self._public_host, meta.port, stream)
            remark = f"{meta.remark}-{client.email}" if meta.remark else client.email
            links = (share_link(meta.protocol, self._primary(meta, client), transport, remark, flow=client.flow),)
        sub = f"{self._sub_base}{client.subId}" if self._sub_base and client.subId else None
        return ProvisionedClient(key=client.email, remote_id=self._primary(meta, client), status=status,
                                 limits=self._limits(client), enabled=enabled, used_bytes=traffic.up + traffic.down,
                                 links=links, subscription_url=sub)

    async def _after_write(self, client: _Client) -> ProvisionedClient:
        traffic = await self._traffic(client.email)
        if traffic is None:
            raise UpstreamUnavailableError(f"{PANEL}: client {client.email!r} vanished after a write",
                                           details={"panel": PANEL})
        return await self._provisioned(client, traffic)

    # -- the port ---------------------------------------------------------------------------------------------
    async def ensure_client(self, spec: ClientSpec) -> ProvisionedClient:
        meta = await self._inbound_meta()
        existing = await self._traffic(spec.key)
        if existing is not None and existing.inboundId not in (0, self._inbound_id):
            # Emails are unique panel-wide: this key belongs to a client we do not manage here.
            raise ConflictError(f"{PANEL}: email {spec.key!r} is used on inbound {existing.inboundId}",
                                details={"panel": PANEL, "inbound": existing.inboundId})
        if existing is None:
            client = self._apply(self._new_client(meta, spec), spec.limits, enabled=spec.enabled, note=spec.note)
            env = await self._add(client)
            if env.success:
                return await self._after_write(client)
            if "duplicate email" not in env.msg.lower():
                raise UpstreamRejectedError(f"{PANEL}: {env.msg}", details={"panel": PANEL, "msg": env.msg})
            # Someone (an earlier attempt whose answer we lost) created it meanwhile: fall through to update.
        if existing is not None and meta.protocol != "trojan" and existing.uuid and await self.api_generation() \
                is not XuiApi.V3:
            # Fast path: getClientTraffics gave us the uuid and subId, which is all we keep from the old object.
            base = _Client(email=spec.key, id=existing.uuid, subId=existing.subId,
                           security="auto" if meta.protocol == "vmess" else "",
                           flow=self._flow if meta.protocol == "vless" else "")
        else:
            base, _ = await self._full(spec.key)
        client = self._apply(base, spec.limits, enabled=spec.enabled, note=spec.note)
        await self._update(self._primary(meta, base), client)
        return await self._after_write(client)

    async def get_client(self, key: str) -> ProvisionedClient:
        client, traffic = await self._full(validate_client_key(key))
        return await self._provisioned(client, traffic)

    async def _modify(self, key: str, change: Callable[[_Client, bool], _Client]) -> ProvisionedClient:
        meta = await self._inbound_meta()
        client, traffic = await self._full(validate_client_key(key))
        _, enabled = self._status(client, traffic)
        updated = change(client, enabled)
        await self._update(self._primary(meta, client), updated)
        return await self._after_write(updated)

    async def update_limits(self, key: str, *, traffic_limit_bytes: int | None, expires_at: datetime | None,
                            device_limit: int | None) -> ProvisionedClient:
        limits = ClientLimits(traffic_limit_bytes, expires_at, device_limit)
        return await self._modify(key, lambda c, enabled: self._apply(c, limits, enabled=enabled))

    async def enable(self, key: str) -> ProvisionedClient:
        return await self._modify(key, lambda c, _: msgspec.structs.replace(c, enable=True))

    async def disable(self, key: str) -> ProvisionedClient:
        return await self._modify(key, lambda c, _: msgspec.structs.replace(c, enable=False))

    async def reset_traffic(self, key: str) -> ProvisionedClient:
        client, traffic = await self._full(validate_client_key(key))
        _, enabled = self._status(client, traffic)
        api = await self.api_generation()
        path = (f"/panel/api/clients/resetTraffic/{key}" if api is XuiApi.V3
                else f"/panel/api/inbounds/{self._inbound_id}/resetClientTraffic/{key}")
        await self._obj("POST", path)
        if enabled and not client.enable:
            # It was switched off by depletion, not by us: with zero counters it may run again.
            return await self.enable(key)
        return await self._after_write(client)

    async def rotate_credentials(self, key: str) -> ProvisionedClient:
        meta = await self._inbound_meta()

        def rotate(c: _Client, _: bool) -> _Client:
            fresh = self._new_client(meta, ClientSpec(key=key))
            # subId changes too: the old subscription URL must stop revealing the new credentials.
            return msgspec.structs.replace(c, id=fresh.id, password=fresh.password, subId=fresh.subId)

        return await self._modify(key, rotate)

    async def remove_client(self, key: str) -> bool:
        validate_client_key(key)
        if await self._traffic(key) is None:
            return False
        api = await self.api_generation()
        path = (f"/panel/api/clients/del/{key}" if api is XuiApi.V3
                else f"/panel/api/inbounds/{self._inbound_id}/delClientByEmail/{key}")
        env = await self._call("POST", path)
        if not env.success and "not found" not in env.msg.lower():
            raise UpstreamRejectedError(f"{PANEL}: {env.msg}", details={"panel": PANEL})
        return env.success

    async def usage(self, keys: Collection[str] | None = None, *, page_size: int = 500,
                    ) -> AsyncIterator[Sequence[UsageSnapshot]]:
        if page_size <= 0:
            raise ValueError("page_size must be positive")
        wanted = None if keys is None else {k.lower() for k in keys}
        if wanted is not None and len(wanted) <= _SMALL_KEY_SET:
            page: list[UsageSnapshot] = []
            for key in sorted(wanted):
                t = await self._traffic(key)
                if t is not None:
                    page.append(UsageSnapshot(t.email, t.up, t.down, self._now()))
                if len(page) >= page_size:
                    yield page
                    page = []
            if page:
                yield page
            return
        api = await self.api_generation()
        if api is XuiApi.V3:
            number = 1
            while True:
                obj = await self._obj("GET", "/panel/api/clients/list/paged",
                                      params={"page": number, "pageSize": page_size, "inbound": self._inbound_id})
                result: _Page = _convert(obj, _Page)
                observed = self._now()
                snaps = [UsageSnapshot(s.email, s.traffic.up, s.traffic.down, observed) for s in result.items
                         if s.traffic is not None and (wanted is None or s.email.lower() in wanted)]
                if snaps:
                    yield snaps
                if len(result.items) < page_size:
                    return
                number += 1
        # 2.x has no paged client listing: one read of the inbound, handed out in pages.
        inbound: _Inbound = _convert(await self._obj("GET", f"/panel/api/inbounds/get/{self._inbound_id}"),
                                     _Inbound)
        observed = self._now()
        stats = [t for t in inbound.clientStats if wanted is None or t.email.lower() in wanted]
        for start in range(0, len(stats), page_size):
            yield [UsageSnapshot(t.email, t.up, t.down, observed) for t in stats[start:start + page_size]]

    async def status(self) -> ServerStatus:
        try:
            api = await self.api_generation()
            if api is XuiApi.LEGACY:
                obj = await self._obj("POST", "/server/status")
            else:
                obj = await self._obj("GET", "/panel/api/server/status")
            total = active = 0
            if api is XuiApi.V3:
                number = 1
                while True:
                    page = await self._obj("GET", "/panel/api/clients/list/paged",
                                           params={"page": number, "pageSize": 1000, "inbound": self._inbound_id})
                    items = page.get("items", []) if isinstance(page, dict) else []
                    total += len(items)
                    active += sum(1 for i in items if i.get("enable"))
                    if len(items) < 1000:
                        break
                    number += 1
            else:
                inbound: _Inbound = _convert(await self._obj("GET", f"/panel/api/inbounds/get/{self._inbound_id}"),
                                             _Inbound)
                total = len(inbound.clientStats)
                active = sum(1 for t in inbound.clientStats if t.enable)
        except UpstreamUnavailableError as exc:
            return ServerStatus(online=False, detail=exc.message)
        mem = obj.get("mem") or {}
        disk = obj.get("disk") or {}
        xray = obj.get("xray") or {}
        return ServerStatus(
            online=xray.get("state", "running") == "running", total_clients=total, active_clients=active,
            uptime_seconds=int(obj.get("uptime", 0)), cpu_percent=float(obj.get("cpu", 0.0)),
            memory_used_bytes=mem.get("current"), memory_total_bytes=mem.get("total"),
            disk_used_bytes=disk.get("current"), disk_total_bytes=disk.get("total"),
            version=f"{api.value} (xray {xray.get('version', '?')})",
            detail=xray.get("errorMsg", "") or "")


def _transport(host: str, port: int, stream: dict[str, Any]) -> Transport:
    """Share-link transport from an inbound's ``streamSettings`` (only the fields links carry)."""
    network = stream.get("network", "tcp")
    security = stream.get("security", "none")
    tls = stream.get("tlsSettings") or {}
    reality = stream.get("realitySettings") or {}
    reality_settings = reality.get("settings") or {}
    ws = stream.get(f"{network}Settings") or {}
    path = ws.get("path", "") if network != "grpc" else ws.get("serviceName", "")
    headers = ws.get("headers") or {}
    return Transport(
        host=host, port=port, network=network, security=security,
        sni=(tls.get("serverName") or (reality.get("serverNames") or [""])[0]),
        fingerprint=(tls.get("settings") or {}).get("fingerprint", "") or reality_settings.get("fingerprint", ""),
        alpn=",".join(tls.get("alpn") or []), path=path, host_header=ws.get("host", "") or headers.get("Host", ""),
        reality_public_key=reality_settings.get("publicKey", ""),
        reality_short_id=(reality.get("shortIds") or [""])[0],
        reality_spider_x=reality_settings.get("spiderX", ""),
    )
