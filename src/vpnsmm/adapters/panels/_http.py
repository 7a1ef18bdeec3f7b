"""Shared plumbing for the HTTP panel adapters: one place that turns transport failures into domain errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from vpnsmm.domain.errors import UpstreamUnavailableError


async def send(client: httpx.AsyncClient, method: str, url: str, *, panel: str,
               headers: Mapping[str, str] | None = None, params: Any = None, json: Any = None,
               data: Mapping[str, str] | None = None) -> httpx.Response:
    """Send one request; timeouts, refused connections and 5xx become UpstreamUnavailableError.

    Redirects are never followed: 3x-UI answers an expired session with a 307 to the login page, and
    following it would turn "log in again" into an HTML page parsed as JSON.
    """
    try:
        response = await client.request(method, url, headers=headers, params=params, json=json, data=data,
                                        follow_redirects=False)
    except httpx.TimeoutException as exc:
        raise UpstreamUnavailableError(f"{panel}: {method} {url} timed out",
                                       details={"panel": panel}) from exc
    except httpx.TransportError as exc:
        raise UpstreamUnavailableError(f"{panel}: {method} {url} failed: {exc}",
                                       details={"panel": panel}) from exc
    if response.status_code >= 500:
        raise UpstreamUnavailableError(f"{panel}: {method} {url} answered HTTP {response.status_code}",
                                       details={"panel": panel, "status": response.status_code,
                                                "body": response.text[:500]})
    return response


def json_body(response: httpx.Response, *, panel: str) -> Any:
    """The decoded JSON body, or UpstreamUnavailableError when the panel sent something else (HTML, garbage)."""
    try:
        return response.json()
    except ValueError as exc:
        raise UpstreamUnavailableError(
            f"{panel}: expected JSON from {response.request.url.path}, got {response.text[:120]!r}",
            details={"panel": panel, "status": response.status_code}) from exc
