"""One POST with JSON bytes, with transport failures turned into the port's retry-later error.

Messages never include request bodies or headers: they carry merchant ids and signatures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import msgspec

from vpnsmm.domain.errors import UpstreamUnavailableError


async def post_json(client: httpx.AsyncClient, url: str, body: bytes, headers: Mapping[str, str], *,
                    provider: str) -> tuple[int, Any]:
    """POST ``body`` exactly as given; return ``(http_status, decoded_json)``.

    Raises UpstreamUnavailableError for timeouts, connection errors, HTTP 429 and 5xx, and any answer that is
    not JSON (a proxy error page, a truncated body). Other 4xx answers are returned for the caller to map.
    """
    all_headers = {"Content-Type": "application/json", "Accept": "application/json", **headers}
    try:
        response = await client.post(url, content=body, headers=all_headers)
    except httpx.TimeoutException as exc:
        raise UpstreamUnavailableError(f"{provider} timed out", details={"provider": provider}) from exc
    except httpx.HTTPError as exc:
        raise UpstreamUnavailableError(f"{provider} is unreachable: {type(exc).__name__}",
                                       details={"provider": provider}) from exc
    status = response.status_code
    if status >= 500 or status == 429:
        raise UpstreamUnavailableError(f"{provider} answered HTTP {status}",
                                       details={"provider": provider, "http_status": status})
    try:
        return status, msgspec.json.decode(response.content)
    except msgspec.DecodeError as exc:
        raise UpstreamUnavailableError(f"{provider} answered HTTP {status} with a body that is not JSON",
                                       details={"provider": provider, "http_status": status}) from exc
