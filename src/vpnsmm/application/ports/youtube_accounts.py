"""Persistence of the managed YouTube account list (inside a unit of work, like every repository)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from vpnsmm.domain.youtube_accounts import YoutubeAccount


class YoutubeAccountRepository(Protocol):
    async def add(self, account: YoutubeAccount) -> YoutubeAccount:
        """Store a new account and set its id. Raises ConflictError (code EMAIL_TAKEN) for a known email."""
        ...

    async def get(self, account_id: int, *, for_update: bool = False) -> YoutubeAccount | None: ...

    async def update(self, account: YoutubeAccount) -> None:
        """Raises NotFoundError for an unknown id."""
        ...

    async def list(self, *, limit: int, offset: int) -> Sequence[YoutubeAccount]:
        """By id, ascending."""
        ...

    async def count(self) -> int: ...
