"""GET /sub/{token}: the subscription feed VPN clients poll.

* default: base64 of the share links, one per line (v2rayN, v2rayNG, Hiddify, Streisand, NekoBox);
* ``?format=clash`` or a Clash/Mihomo/Stash User-Agent: a Clash config (YAML; written in flow style);
* ``?format=singbox`` or a sing-box User-Agent (SFA/SFI/SFM): a sing-box config (JSON);
* WireGuard accounts: the ``.conf`` file whatever the format;
* always ``subscription-userinfo: upload=..; download=..; total=..; expire=..`` (this period; 0 = unlimited/never).
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any
from urllib.parse import parse_qs, unquote, urlsplit

from litestar import Controller, Request, Response, get
from litestar.params import Parameter

from vpnsmm.application.vpn import SubscriptionFeed, VpnAccounts
from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.vpn_sales import ServerKind

FORMATS = ("base64", "clash", "singbox", "links")
_CLASH_AGENTS = ("clash", "mihomo", "stash")
_SINGBOX_AGENTS = ("sing-box", "singbox", "sfa", "sfi", "sfm", "sft")


def pick_format(requested: str | None, user_agent: str) -> str:
    if requested:
        wanted = requested.strip().lower().replace("-", "")
        if wanted not in FORMATS:
            raise ValidationError(f"format must be one of {', '.join(FORMATS)}", field="format")
        return wanted
    agent = user_agent.lower()
    if any(a in agent for a in _CLASH_AGENTS):
        return "clash"
    if any(a in agent for a in _SINGBOX_AGENTS):
        return "singbox"
    return "base64"


def parse_link(link: str) -> dict[str, Any] | None:
    """The fields of a vless/trojan/vmess share link, or None for a link we do not understand."""
    if link.startswith("vmess://"):
        body = link[len("vmess://"):]
        try:
            obj = json.loads(base64.b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        return {"protocol": "vmess", "name": str(obj.get("ps") or "vmess"), "server": str(obj.get("add", "")),
                "port": int(obj.get("port") or 0), "secret": str(obj.get("id", "")), "network": obj.get("net") or "tcp",
                "security": "tls" if obj.get("tls") == "tls" else "none", "sni": obj.get("sni") or "",
                "path": obj.get("path") or "", "host": obj.get("host") or "", "fp": obj.get("fp") or "",
                "cipher": obj.get("scy") or "auto", "flow": "", "pbk": "", "sid": ""}
    try:
        parts = urlsplit(link)
        if parts.scheme not in ("vless", "trojan") or not parts.hostname:
            return None
        port = parts.port or 443
    except ValueError:
        return None
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    network = q.get("type", "tcp")
    return {"protocol": parts.scheme, "name": unquote(parts.fragment) or parts.scheme, "server": parts.hostname,
            "port": port, "secret": unquote(parts.username or ""), "network": network,
            "security": q.get("security", "none"), "sni": q.get("sni", ""), "fp": q.get("fp", ""),
            "path": q.get("serviceName", "") if network == "grpc" else q.get("path", ""), "host": q.get("host", ""),
            "flow": q.get("flow", ""), "pbk": q.get("pbk", ""), "sid": q.get("sid", ""), "cipher": "auto"}


def clash_proxy(p: dict[str, Any]) -> dict[str, Any]:
    proxy: dict[str, Any] = {"name": p["name"], "type": p["protocol"], "server": p["server"], "port": p["port"],
                             "udp": True}
    if p["protocol"] == "trojan":
        proxy["password"] = p["secret"]
        if p["sni"]:
            proxy["sni"] = p["sni"]
    else:
        proxy["uuid"] = p["secret"]
        if p["protocol"] == "vmess":
            proxy.update({"alterId": 0, "cipher": p["cipher"]})
        proxy["tls"] = p["security"] in ("tls", "reality")
        if p["sni"]:
            proxy["servername"] = p["sni"]
    if p["flow"]:
        proxy["flow"] = p["flow"]
    if p["fp"]:
        proxy["client-fingerprint"] = p["fp"]
    if p["security"] == "reality":
        proxy["reality-opts"] = {"public-key": p["pbk"], "short-id": p["sid"]}
    proxy["network"] = p["network"]
    if p["network"] in ("ws", "httpupgrade"):
        proxy["ws-opts"] = {"path": p["path"] or "/", **({"headers": {"Host": p["host"]}} if p["host"] else {})}
    elif p["network"] == "grpc":
        proxy["grpc-opts"] = {"grpc-service-name": p["path"]}
    return proxy


def singbox_outbound(p: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": p["protocol"], "tag": p["name"], "server": p["server"], "server_port": p["port"]}
    if p["protocol"] == "trojan":
        out["password"] = p["secret"]
    else:
        out["uuid"] = p["secret"]
        if p["protocol"] == "vmess":
            out["security"] = p["cipher"]
    if p["flow"]:
        out["flow"] = p["flow"]
    if p["security"] in ("tls", "reality"):
        tls: dict[str, Any] = {"enabled": True, "server_name": p["sni"] or p["server"]}
        if p["fp"]:
            tls["utls"] = {"enabled": True, "fingerprint": p["fp"]}
        if p["security"] == "reality":
            tls["reality"] = {"enabled": True, "public_key": p["pbk"], "short_id": p["sid"]}
        out["tls"] = tls
    if p["network"] in ("ws", "httpupgrade"):
        out["transport"] = {"type": p["network"], "path": p["path"] or "/",
                            **({"headers": {"Host": p["host"]}} if p["host"] else {})}
    elif p["network"] == "grpc":
        out["transport"] = {"type": "grpc", "service_name": p["path"]}
    return out


def _unique_names(parsed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, int] = {}
    for p in parsed:
        n = seen.get(p["name"], 0)
        seen[p["name"]] = n + 1
        if n:
            p["name"] = f"{p['name']} {n + 1}"
    return parsed


def render_clash(links: list[str]) -> str:
    proxies = [clash_proxy(p) for p in _unique_names([x for x in map(parse_link, links) if x])]
    names = [p["name"] for p in proxies]
    lines = ["mixed-port: 7890", "mode: rule", "proxies:"]
    lines += [f"  - {json.dumps(p, ensure_ascii=False)}" for p in proxies] or ["  []"]
    lines += ["proxy-groups:", f"  - {json.dumps({'name': 'PROXY', 'type': 'select', 'proxies': names or ['DIRECT']})}",
              "rules:", "  - MATCH,PROXY"]
    if not proxies:
        lines[2] = "proxies: []"
        del lines[3]
    return "\n".join(lines) + "\n"


def render_singbox(links: list[str]) -> str:
    outbounds = [singbox_outbound(p) for p in _unique_names([x for x in map(parse_link, links) if x])]
    tags = [o["tag"] for o in outbounds]
    config = {"log": {"level": "warn"},
              "inbounds": [{"type": "mixed", "tag": "mixed-in", "listen": "127.0.0.1", "listen_port": 2080}],
              "outbounds": [{"type": "selector", "tag": "proxy", "outbounds": tags or ["direct"]}, *outbounds,
                            {"type": "direct", "tag": "direct"}],
              "route": {"final": "proxy"}}
    return json.dumps(config, ensure_ascii=False, indent=2) + "\n"


def render_feed(feed: SubscriptionFeed, fmt: str) -> tuple[str, str, str]:
    """(body, media type, file extension)."""
    if feed.kind is ServerKind.WIREGUARD and feed.config:
        return feed.config, "text/plain; charset=utf-8", "conf"
    links = list(feed.links)
    if fmt == "clash":
        return render_clash(links), "text/yaml; charset=utf-8", "yaml"
    if fmt == "singbox":
        return render_singbox(links), "application/json", "json"
    text = "\n".join(links) + ("\n" if links else "")
    if fmt == "links":
        return text, "text/plain; charset=utf-8", "txt"
    return base64.b64encode(text.encode()).decode(), "text/plain; charset=utf-8", "txt"


class SubscriptionController(Controller):
    path = "/sub"
    tags = ["vpn"]

    @get("/{token:str}", operation_id="SubscriptionFeed", security=[])
    async def feed(self, token: str, request: Request[Any, Any, Any], vpn_accounts: VpnAccounts,
                   format: Annotated[str | None, Parameter(max_length=16)] = None) -> Response[str]:
        """What a VPN client imports. The token is the secret: anyone holding the URL gets the config."""
        feed = await vpn_accounts.subscription(token)
        body, media_type, ext = render_feed(feed, pick_format(format, request.headers.get("user-agent", "")))
        info = feed.userinfo
        headers = {
            "subscription-userinfo": f"upload={info['upload']}; download={info['download']}; "
                                     f"total={info['total']}; expire={info['expire']}",
            "profile-update-interval": "12",
            "content-disposition": f'attachment; filename="vpnsmm-{feed.account.id}.{ext}"',
            "cache-control": "no-store",
        }
        return Response(body, media_type=media_type, headers=headers)
