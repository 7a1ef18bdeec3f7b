"""Value objects that describe a VPN client on a panel, its usage and the panel's health.

These are pure values: no persistence, no I/O. Units are fixed here once so that every adapter converts
at its own edge: sizes are **bytes** (``int``), instants are **timezone-aware** ``datetime`` values,
``None`` means "unlimited" / "never" / "not reported".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from attrs import field, frozen

from vpnsmm.domain.errors import ValidationError

#: Our stable client key ("acc-42"). The pattern is the intersection of what every panel accepts as a
#: unique name: Marzban usernames (``\w`` plus ``-``, 3..32, unique case-insensitively) and 3x-UI emails.
CLIENT_KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{2,31}$")


def validate_client_key(key: object) -> str:
    """Return ``key`` if it is a valid client key, else raise ValidationError(field="key")."""
    if not isinstance(key, str) or not CLIENT_KEY_PATTERN.match(key):
        raise ValidationError(
            f"client key {key!r} must be 3-32 chars of a-z, 0-9, '_' or '-', starting with a letter or digit",
            field="key", code="INVALID_CLIENT_KEY")
    return key


def _key_validator(_: object, __: Any, value: str) -> None:
    validate_client_key(value)


def _optional_positive_int(_: object, attribute: Any, value: object) -> None:
    if value is None:
        return
    if type(value) is not int or value <= 0:
        # 0 is refused on purpose: every panel spells "unlimited" as 0, so a zero limit would silently
        # become unlimited. Use None for unlimited.
        raise ValidationError(f"{attribute.name} must be a positive integer or None (unlimited), got {value!r}",
                              field=attribute.name)


def _optional_aware(_: object, attribute: Any, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{attribute.name} must be a timezone-aware datetime or None, got {value!r}",
                              field=attribute.name)


def _to_utc_seconds(value: datetime | None) -> datetime | None:
    # Panels keep whole seconds (Marzban) or milliseconds (3x-UI); the port promises second precision
    # so that a value read back compares equal to the value written, whichever panel stored it.
    if value is None or not isinstance(value, datetime) or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(microsecond=0)


class ClientStatus(StrEnum):
    """Where a client stands on its panel.

    ``LIMITED`` and ``EXPIRED`` are set by the panel (or computed from its counters), never requested.
    """

    ACTIVE = "active"
    DISABLED = "disabled"
    LIMITED = "limited"  # traffic quota used up
    EXPIRED = "expired"  # expiry instant passed


@frozen
class ClientLimits:
    """What a client may use. ``None`` = unlimited / never expires / no device cap.

    ``expires_at`` is normalised to UTC and truncated to whole seconds (the coarsest panel unit).
    """

    traffic_limit_bytes: int | None = field(default=None, validator=_optional_positive_int)
    expires_at: datetime | None = field(default=None, converter=_to_utc_seconds, validator=_optional_aware)
    device_limit: int | None = field(default=None, validator=_optional_positive_int)

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def is_exhausted(self, used_bytes: int) -> bool:
        return self.traffic_limit_bytes is not None and used_bytes >= self.traffic_limit_bytes


def _check_note(_: object, __: Any, value: str) -> None:
    if not isinstance(value, str) or len(value) > 500:  # Marzban's limit, the strictest
        raise ValidationError("note must be a string of at most 500 characters", field="note")


@frozen
class ClientSpec:
    """The desired state of one client, keyed by our stable ``key``.

    Handing the same spec to ``VpnPanel.ensure_client`` twice must leave exactly one client on the panel.
    """

    key: str = field(validator=_key_validator)
    limits: ClientLimits = field(factory=ClientLimits)
    enabled: bool = True
    note: str = field(default="", validator=_check_note)


@frozen
class UsageSnapshot:
    """Traffic counters of one client as the panel counts them, read at ``observed_at``.

    The counters are **not** monotonic: they drop to zero after a panel-side reset (our own
    ``reset_traffic``, 3x-UI auto-renew, Marzban reset strategies, WireGuard interface restarts). Callers
    that need lifetime totals accumulate deltas with ``delta = cur - last if cur >= last else cur``.
    ``counters_reset`` is True when the adapter itself *saw* the counters go backwards since its previous
    read (only adapters that remember previous reads can tell; the others always say False).
    """

    key: str
    upload_bytes: int
    download_bytes: int
    observed_at: datetime
    counters_reset: bool = False

    @property
    def total_bytes(self) -> int:
        return self.upload_bytes + self.download_bytes


@frozen
class ServerStatus:
    """Health of one panel/server. Fields a panel does not report are ``None``.

    ``online`` is False when the panel could not be reached; ``detail`` then says why.
    """

    online: bool
    total_clients: int | None = None
    active_clients: int | None = None
    uptime_seconds: int | None = None
    cpu_percent: float | None = None  # a gauge, not money: float is fine here
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    disk_used_bytes: int | None = None
    disk_total_bytes: int | None = None
    version: str | None = None
    detail: str = ""
