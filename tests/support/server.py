"""Run the real ``vpnsmm serve`` in a subprocess on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(data_dir: Path, *, env: Mapping[str, str] | None = None, workers: int = 1,
                   timeout: float = 45.0) -> Iterator[str]:
    """Start ``python -m vpnsmm serve`` and yield its base URL once /health answers 200; stop it after."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VPNSMM_")}
    # Rate limits off unless a test asks for them: e2e suites make many requests from one IP.
    full_env.update({"VPNSMM_DATA_DIR": str(data_dir), "VPNSMM_LOG_FORMAT": "json", "VPNSMM_RATE_LIMITS": "off",
                     **(env or {})})
    log_path = data_dir / "server.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vpnsmm", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)], env=full_env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
                try:
                    if httpx.get(f"{base}/health", timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not become healthy:\n{log_path.read_text()[-4000:]}")
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
