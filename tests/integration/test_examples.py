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


def test_custom_panel_adapter_passes_the_contract_and_sells_a_plan() -> None:
    out = run("custom_panel_adapter.py")
    assert "contract: 15/15 checks passed" in out
    assert "invoice fulfilled; account 1 active on acme; panel holds ['acc-1']" in out
    assert "link: vless://" in out and "@acme.example.net:443" in out


def test_bulk_renewal_charges_once_and_skips_who_cannot_pay() -> None:
    out = run("bulk_renewal.py", "12")
    assert "renewed 11 of 12 accounts; could not pay: [1]" in out
    assert "second run renewed 0 more; account 2 now expires 30 days later; its owner has 0 IRR left" in out


COVERED = {"ledger_history.py", "custom_gateway.py", "custom_panel_adapter.py", "bulk_renewal.py"}


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_is_covered(script: str) -> None:
    assert script in COVERED, f"add a test for examples/{script}"
