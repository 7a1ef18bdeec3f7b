"""Running the ``wg`` tool. The panel only sees the CommandRunner protocol, so tests can record commands."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from typing import Protocol

from attrs import frozen

from vpnsmm.domain.errors import UpstreamUnavailableError


@frozen
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


class CommandRunner(Protocol):
    async def run(self, argv: Sequence[str], *, stdin: bytes | None = None) -> CommandResult:
        """Run ``argv`` (no shell). Returns whatever the command returned; never raises for a non-zero exit."""
        ...


class SubprocessRunner:
    """Runs commands with ``asyncio.create_subprocess_exec``; ``timeout`` seconds per command."""

    def __init__(self, *, timeout: float = 10.0) -> None:
        self._timeout = timeout

    async def run(self, argv: Sequence[str], *, stdin: bytes | None = None) -> CommandResult:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            raise UpstreamUnavailableError(f"cannot run {argv[0]}: {exc}", details={"panel": "wireguard"}) from exc
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), self._timeout)
        except TimeoutError as exc:
            proc.kill()
            raise UpstreamUnavailableError(f"{argv[0]} timed out", details={"panel": "wireguard"}) from exc
        return CommandResult(proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))


async def detect_runner(interface: str, runner: CommandRunner | None = None) -> CommandRunner | None:
    """A runner when the ``wg`` tool exists AND ``wg show <interface>`` works; None means render-only."""
    if shutil.which("wg") is None:
        return None
    runner = runner or SubprocessRunner()
    result = await runner.run(["wg", "show", interface, "dump"])
    return runner if result.returncode == 0 else None
