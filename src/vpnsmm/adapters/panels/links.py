"""Share links in their de-facto formats (what v2rayN, v2rayNG, Hiddify, Streisand and NekoBox import).

There is no RFC. These follow what 3x-UI's ``sub/subService.go`` and Marzban's ``app/subscription/share.py``
emit: ``vmess://`` is base64(JSON) in the v2rayN "v2" layout, ``vless://`` and ``trojan://`` are URIs with
transport/security in the query and the remark in the fragment. All functions are pure.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from urllib.parse import quote, urlencode

from attrs import field, frozen


@frozen
class Transport:
    """How an inbound is reached: the network and security layers a link must describe.

    ``network``: tcp | ws | grpc | httpupgrade | xhttp | kcp. ``security``: none | tls | reality.
    """

    host: str
    port: int
    network: str = "tcp"
    security: str = "none"
    sni: str = ""
    fingerprint: str = ""
    alpn: str = ""
    path: str = ""  # ws/httpupgrade/xhttp path, grpc serviceName
    host_header: str = ""  # ws/httpupgrade Host
    header_type: str = ""  # tcp "http" obfuscation
    reality_public_key: str = ""  # pbk
    reality_short_id: str = ""  # sid
    reality_spider_x: str = ""  # spx
    extra: Mapping[str, str] = field(factory=dict)


def _transport_query(t: Transport) -> dict[str, str]:
    q: dict[str, str] = {"type": t.network}
    if t.network in ("ws", "httpupgrade", "xhttp"):
        if t.path:
            q["path"] = t.path
        if t.host_header:
            q["host"] = t.host_header
    elif t.network == "grpc" and t.path:
        q["serviceName"] = t.path
    elif t.network == "tcp" and t.header_type:
        q["headerType"] = t.header_type
    q["security"] = t.security
    if t.security in ("tls", "reality"):
        if t.sni:
            q["sni"] = t.sni
        if t.fingerprint:
            q["fp"] = t.fingerprint
        if t.alpn and t.security == "tls":
            q["alpn"] = t.alpn
    if t.security == "reality":
        if t.reality_public_key:
            q["pbk"] = t.reality_public_key
        if t.reality_short_id:
            q["sid"] = t.reality_short_id
        if t.reality_spider_x:
            q["spx"] = t.reality_spider_x
    q.update(t.extra)
    return q


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def vless_link(uuid: str, t: Transport, remark: str, *, flow: str = "") -> str:
    """``vless://<uuid>@<host>:<port>?type=..&encryption=none&security=..[&flow=..]#<remark>``.

    ``flow`` is only emitted for tcp with tls/reality, as 3x-UI does (clients reject it elsewhere).
    """
    q = {"type": t.network, "encryption": "none"}
    q.update(_transport_query(t))
    if flow and t.network == "tcp" and t.security in ("tls", "reality"):
        q["flow"] = flow
    return f"vless://{uuid}@{_authority(t.host, t.port)}?{urlencode(q, quote_via=quote)}#{quote(remark)}"


def trojan_link(password: str, t: Transport, remark: str) -> str:
    """``trojan://<password>@<host>:<port>?type=..&security=..#<remark>`` (password percent-encoded)."""
    q = _transport_query(t)
    return (f"trojan://{quote(password, safe='')}@{_authority(t.host, t.port)}"
            f"?{urlencode(q, quote_via=quote)}#{quote(remark)}")


def vmess_link(uuid: str, t: Transport, remark: str, *, cipher: str = "auto") -> str:
    """``vmess://`` + standard base64 of the v2rayN JSON object (``v: "2"``; port as a number)."""
    obj: dict[str, object] = {
        "v": "2",
        "ps": remark,
        "add": t.host,
        "port": t.port,
        "id": uuid,
        "scy": cipher,
        "net": t.network,
        "type": t.header_type or "none",
        "host": t.host_header,
        "path": t.path,
        "tls": "tls" if t.security == "tls" else "",
    }
    if t.security == "tls":
        obj.update({"sni": t.sni, "alpn": t.alpn, "fp": t.fingerprint})
    raw = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return "vmess://" + base64.b64encode(raw).decode()


def decode_vmess_link(link: str) -> dict[str, object]:
    """The JSON object inside a ``vmess://`` link (for tests and diagnostics). Raises ValueError."""
    if not link.startswith("vmess://"):
        raise ValueError("not a vmess link")
    body = link[len("vmess://"):]
    body += "=" * (-len(body) % 4)
    decoded = json.loads(base64.b64decode(body))
    if not isinstance(decoded, dict):
        raise ValueError("vmess payload is not an object")
    return decoded


def share_link(protocol: str, secret: str, t: Transport, remark: str, *, flow: str = "") -> str:
    """Dispatch on the protocol name used by both panels (vless | vmess | trojan). Raises ValueError otherwise."""
    if protocol == "vless":
        return vless_link(secret, t, remark, flow=flow)
    if protocol == "vmess":
        return vmess_link(secret, t, remark)
    if protocol == "trojan":
        return trojan_link(secret, t, remark)
    raise ValueError(f"no share-link format for protocol {protocol!r}")
