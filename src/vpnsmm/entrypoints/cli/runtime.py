"""Helpers every CLI command uses: settings, the container, output and errors.

Errors become one line on stderr and a non-zero exit (2 for bad input or configuration, 1 otherwise);
never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from vpnsmm.config import ConfigError, Settings, load_settings
from vpnsmm.container import Container, opened
from vpnsmm.domain.errors import NotFoundError, ValidationError, VpnsmmError

T = TypeVar("T")
out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc), 2)


def run(action: Callable[[Container], Awaitable[T]], *, migrate: bool = True) -> T:
    """Run ``action`` with a started container; domain errors end the process with one clear line."""
    settings = settings_or_exit()

    async def main() -> T:
        async with opened(settings, run_migrations=migrate) as container:
            return await action(container)

    try:
        return asyncio.run(main())
    except (ValidationError, NotFoundError) as exc:
        fail(exc.message, 2)
    except VpnsmmError as exc:
        fail(f"{exc.message} ({exc.code})", 1)
    except OSError as exc:
        fail(f"cannot reach the database: {exc}", 1)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, (int, str)):
        return value.value
    return value


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=_plain, ensure_ascii=False, indent=2) + "\n")


def emit_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(_plain(v)) for v in row))
    out.print(table)


JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")
