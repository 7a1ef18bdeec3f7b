"""SQL repository of the managed YouTube account list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vpnsmm.adapters.sqlalchemy.errors import register_unique, translated
from vpnsmm.adapters.sqlalchemy.tables import youtube_accounts
from vpnsmm.domain.errors import NotFoundError
from vpnsmm.domain.youtube_accounts import YoutubeAccount, YoutubeAccountStatus

register_unique("youtube_accounts.email_ci", "email", "EMAIL_TAKEN", "this YouTube account is already listed")
register_unique("uq_youtube_accounts_email_ci", "email", "EMAIL_TAKEN", "this YouTube account is already listed")


def _values(a: YoutubeAccount) -> dict[str, Any]:
    return {"email": a.email, "email_ci": a.email.casefold(), "status": a.status.value, "daily_limit": a.daily_limit,
            "daily_used": a.daily_used, "total_processed": a.total_processed, "last_used_at": a.last_used_at,
            "created_at": a.created_at, "updated_at": a.updated_at}


def _account(r: Any) -> YoutubeAccount:
    return YoutubeAccount(id=r.id, email=r.email, status=YoutubeAccountStatus(r.status), daily_limit=r.daily_limit,
                          daily_used=r.daily_used, total_processed=r.total_processed, last_used_at=r.last_used_at,
                          created_at=r.created_at, updated_at=r.updated_at)


class SqlYoutubeAccountRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, account: YoutubeAccount) -> YoutubeAccount:
        async with translated():
            result = await self._c.execute(youtube_accounts.insert().values(**_values(account))
                                           .returning(youtube_accounts.c.id))
        account.id = int(result.scalar_one())
        return account

    async def get(self, account_id: int, *, for_update: bool = False) -> YoutubeAccount | None:
        query = sa.select(youtube_accounts).where(youtube_accounts.c.id == account_id)
        if for_update and self._c.dialect.name == "postgresql":
            query = query.with_for_update()
        row = (await self._c.execute(query)).first()
        return _account(row) if row else None

    async def update(self, account: YoutubeAccount) -> None:
        async with translated():
            result = await self._c.execute(youtube_accounts.update().where(youtube_accounts.c.id == account.id)
                                           .values(**_values(account)))
        if result.rowcount == 0:
            raise NotFoundError("YouTube account not found", code="YOUTUBE_ACCOUNT_NOT_FOUND")

    async def list(self, *, limit: int, offset: int) -> Sequence[YoutubeAccount]:
        rows = await self._c.execute(sa.select(youtube_accounts).order_by(youtube_accounts.c.id)
                                     .limit(limit).offset(offset))
        return [_account(r) for r in rows]

    async def count(self) -> int:
        return int((await self._c.execute(sa.select(sa.func.count()).select_from(youtube_accounts))).scalar_one())
