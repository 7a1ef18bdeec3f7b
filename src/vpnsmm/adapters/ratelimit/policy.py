"""Rate-limit settings: which budget each endpoint class gets, parsed from ``VPNSMM_RATE_LIMITS``.

Syntax: comma-separated ``class=REQUESTS/SECONDS`` entries; a class may appear more than once (e.g. a
per-minute and a per-hour budget). Classes named in the setting replace their defaults; the others keep
them. ``off`` disables limiting (benchmarks), ``default`` (or empty) is :data:`DEFAULT_RATE_LIMITS`.
"""

from __future__ import annotations

from collections.abc import Mapping

from attrs import frozen

#: Endpoint classes (smm-spring-api.md) plus the caller tiers (v2ray-account-api.md).
ENDPOINT_CLASSES = ("auth", "orders", "balance", "admin", "read")
TIERS = ("anonymous", "authenticated")

#: The seed documents' numbers: per minute and per hour for endpoint classes, per minute for tiers.
DEFAULT_RATE_LIMITS = (
    "auth=10/60,auth=60/3600,orders=30/60,orders=300/3600,balance=20/60,balance=200/3600,"
    "admin=100/60,admin=1000/3600,read=100/60,read=5000/3600,anonymous=10/60,authenticated=60/60"
)


@frozen
class Limit:
    requests: int
    window: int  # seconds


@frozen
class RateLimitPolicy:
    enabled: bool
    limits: Mapping[str, tuple[Limit, ...]]

    def of(self, name: str) -> tuple[Limit, ...]:
        return self.limits.get(name, ())


def _entries(text: str) -> dict[str, tuple[Limit, ...]]:
    result: dict[str, list[Limit]] = {}
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        name, sep, rule = entry.partition("=")
        name = name.strip().lower()
        requests, slash, window = rule.strip().partition("/")
        if not sep or not slash or not requests.strip().isdigit() or not window.strip().isdigit():
            raise ValueError(f"{entry!r}: expected class=REQUESTS/SECONDS, e.g. auth=10/60")
        if name not in ENDPOINT_CLASSES + TIERS:
            raise ValueError(f"{entry!r}: unknown class {name!r} (known: {', '.join(ENDPOINT_CLASSES + TIERS)})")
        limit = Limit(int(requests), int(window))
        if limit.requests < 1 or not 1 <= limit.window <= 86_400:
            raise ValueError(f"{entry!r}: need at least 1 request and a window of 1-86400 seconds")
        result.setdefault(name, []).append(limit)
    return {name: tuple(limits) for name, limits in result.items()}


def parse_rate_limits(text: str) -> RateLimitPolicy:
    """Parse the setting. Raises ValueError naming the first bad entry."""
    value = text.strip().lower()
    if value == "off":
        return RateLimitPolicy(enabled=False, limits={})
    limits = _entries(DEFAULT_RATE_LIMITS)
    if value and value != "default":
        limits.update(_entries(value))
    return RateLimitPolicy(enabled=True, limits=limits)
