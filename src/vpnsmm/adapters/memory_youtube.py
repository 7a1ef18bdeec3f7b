"""In-memory YouTube account repository (the fake of the SQL one; state in ``InMemoryStore.extensions``)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from vpnsmm.domain.errors import ConflictError, NotFoundError
from vpnsmm.domain.youtube_accounts import YoutubeAccount


class InMemoryYoutubeAccountRepository:
    def __init__(self, store: Any) -> None:
        self._store = store  # an InMemoryStore; its dicts are replaced on rollback, so look them up each time

    @property
    def _rows(self) -> dict[int, YoutubeAccount]:
        found: dict[int, YoutubeAccount] = self._store.extensions.setdefault("youtube_accounts", {})
        return found

    async def add(self, account: YoutubeAccount) -> YoutubeAccount:
        if any(a.email.casefold() == account.email.casefold() for a in self._rows.values()):
            raise ConflictError("this YouTube account is already listed", code="EMAIL_TAKEN",
                                details={"field": "email"})
        account.id = max(self._rows, default=0) + 1
        self._rows[account.id] = copy.deepcopy(account)
        return account

    async def get(self, account_id: int, *, for_update: bool = False) -> YoutubeAccount | None:
        found = self._rows.get(account_id)
        return copy.deepcopy(found) if found else None

    async def update(self, account: YoutubeAccount) -> None:
        if account.id not in self._rows:
            raise NotFoundError("YouTube account not found", code="YOUTUBE_ACCOUNT_NOT_FOUND")
        self._rows[account.id] = copy.deepcopy(account)

    async def list(self, *, limit: int, offset: int) -> Sequence[YoutubeAccount]:
        return [copy.deepcopy(a) for _, a in sorted(self._rows.items())][offset:offset + limit]

    async def count(self) -> int:
        return len(self._rows)
