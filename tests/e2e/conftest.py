from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.databases import temporary_postgres_database
from tests.support.server import running_server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real vpnsmm server over a real socket, on a fresh SQLite data dir or a fresh PostgreSQL database."""
    data_dir: Path = tmp_path_factory.mktemp("e2e")
    if request.param == "sqlite":
        with running_server(data_dir) as url:
            yield url
    else:
        with temporary_postgres_database() as db_url, running_server(
                data_dir, env={"VPNSMM_DATABASE_URL": db_url}) as url:
            yield url


@pytest.fixture
async def http(server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server_url, timeout=30.0) as client:
        yield client
