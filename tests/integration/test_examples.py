"""Every script in examples/ runs to completion and prints what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(script: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPNSMM_")}
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_ledger_history(tmp_path: Path) -> None:
    out = run("ledger_history.py", str(tmp_path))
    assert "refused as expected: INSUFFICIENT_BALANCE" in out
    assert "100.00 -> 87.50" in out and "customer balance: 37.50 USD" in out


def test_custom_gateway() -> None:
    assert "balance after paying: 500000 IRR" in run("custom_gateway.py")


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_is_covered(script: str) -> None:
    assert script in {"ledger_history.py", "custom_gateway.py"}, f"add a test for examples/{script}"
