"""What CandyPanel's dashboard shows about the machine, read from /proc (Linux); blanks elsewhere.

Rendering facts about the host is not a business rule, so it lives at the edge with the dialect.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _read(path: str) -> str:
    try:
        return Path(path).read_text("utf-8")
    except OSError:
        return ""


def _meminfo() -> dict[str, int]:
    values: dict[str, int] = {}
    for line in _read("/proc/meminfo").splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name] = int(parts[0]) * 1024
    return values


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} TB"  # pragma: no cover


def uptime_text() -> str:
    raw = _read("/proc/uptime").split()
    if not raw:
        return ""
    seconds = int(float(raw[0]))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours}h {rest // 60}m"


def _net() -> tuple[int, int]:
    down = up = 0
    for line in _read("/proc/net/dev").splitlines()[2:]:
        name, _, rest = line.partition(":")
        fields = rest.split()
        if name.strip() == "lo" or len(fields) < 9:
            continue
        down += int(fields[0])
        up += int(fields[8])
    return down, up


def dashboard(clients_count: int, status: str, alerts: list[str]) -> dict[str, Any]:
    """CandyPanel's ``dashboard`` object: cpu (load per core, percent), memory, uptime and host traffic."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - not on Linux
        load = 0.0
    cpu = min(100.0, load * 100 / (os.cpu_count() or 1))
    mem = _meminfo()
    total, available = mem.get("MemTotal", 0), mem.get("MemAvailable", 0)
    usage = (total - available) * 100 / total if total else 0.0
    down, up = _net()
    return {
        "cpu": f"{cpu:.1f}%",
        "mem": {"total": _human(total), "available": _human(available), "usage": f"{usage:.1f}%"},
        "clients_count": clients_count,
        "status": status,
        "alert": alerts,
        "bandwidth": _human(down + up),
        "uptime": uptime_text(),
        "net": {"download": _human(down), "upload": _human(up)},
    }
