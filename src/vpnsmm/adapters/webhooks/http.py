"""WebhookSender over httpx: resolves the target first and refuses non-public addresses (unless allowed).

The address check at send time closes the gap a host name leaves at creation time (it may resolve to
127.0.0.1 or a private network). A resolver that answers differently between our check and httpx's own
lookup (DNS rebinding within milliseconds) is not covered; deployments that need that run the worker
behind an egress proxy that refuses private ranges.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from vpnsmm.application.ports.webhooks import WebhookSendError
from vpnsmm.domain.webhooks import is_public_address


class HttpWebhookSender:
    def __init__(self, client: httpx.AsyncClient, *, allow_private: bool = False, timeout: float = 10.0) -> None:
        self._client, self._allow_private, self._timeout = client, allow_private, timeout

    async def _check_target(self, url: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise WebhookSendError(f"cannot resolve {host}: {exc}") from None
        private = sorted({str(info[4][0]) for info in infos if not is_public_address(str(info[4][0]))})
        if private:
            raise WebhookSendError(f"{host} resolves to a non-public address ({', '.join(private[:3])})",
                                   permanent=True)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        if not self._allow_private:
            await self._check_target(url)
        try:
            # stream(): the status line is all we need; a huge or endless response body is never read.
            async with self._client.stream("POST", url, content=body, headers=dict(headers),
                                           timeout=self._timeout, follow_redirects=False) as response:
                return response.status_code
        except httpx.TimeoutException:
            raise WebhookSendError(f"timed out after {self._timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise WebhookSendError(f"{type(exc).__name__}: {exc}"[:500]) from None
