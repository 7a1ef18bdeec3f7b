"""YouTube accounts an SMM operator keeps for delivering YouTube orders: a managed list with daily quotas.

Pure rules only. An account may be used ``daily_limit`` times a day; ``daily_used`` counts today's uses
and an operator (or a daily job) resets it. ``status`` says whether the account may be used at all.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from attrs import define

from vpnsmm.domain.errors import ValidationError

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,60}$")
MAX_DAILY_LIMIT = 1_000_000


class YoutubeAccountStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    BLOCKED = "BLOCKED"
    RATE_LIMITED = "RATE_LIMITED"
    SUSPENDED = "SUSPENDED"

    @classmethod
    def parse(cls, raw: object) -> YoutubeAccountStatus:
        """``"inactive"`` -> INACTIVE. Raises ValidationError (field ``status``) naming the allowed values."""
        text = raw.strip().upper() if isinstance(raw, str) else ""
        try:
            return cls(text)
        except ValueError:
            raise ValidationError(f"status must be one of {', '.join(s.value for s in cls)}",
                                  field="status", code="INVALID_STATUS") from None


def check_email(raw: str) -> str:
    cleaned = (raw or "").strip()
    if len(cleaned) > 254 or not _EMAIL.match(cleaned):
        raise ValidationError("email must be an email address", field="email")
    return cleaned


def check_daily_limit(value: int) -> int:
    if type(value) is not int or not 0 <= value <= MAX_DAILY_LIMIT:
        raise ValidationError(f"dailyLimit must be an integer 0-{MAX_DAILY_LIMIT}", field="dailyLimit")
    return value


@define(kw_only=True)
class YoutubeAccount:
    email: str
    created_at: datetime
    status: YoutubeAccountStatus = YoutubeAccountStatus.ACTIVE
    daily_limit: int = 100
    daily_used: int = 0
    total_processed: int = 0
    last_used_at: datetime | None = None
    updated_at: datetime | None = None
    id: int = 0

    def reset_daily_limit(self, now: datetime) -> int:
        """Start today's quota again; returns the count it cleared."""
        cleared, self.daily_used, self.updated_at = self.daily_used, 0, now
        return cleared

    def set_status(self, status: YoutubeAccountStatus, now: datetime) -> YoutubeAccountStatus:
        """Change the status; returns the previous one."""
        before, self.status, self.updated_at = self.status, status, now
        return before
