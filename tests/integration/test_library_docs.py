"""docs/library.md is true: a fresh project built only from its ``# file:`` code blocks, importing only vpnsmm's
public modules, runs a purchase through the library, plugs in its own panel adapter and passes the packaged
contract suite with it, and runs its own Hypothesis tests on vpnsmm.testing strategies."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "library.md"
SRC = Path(__file__).resolve().parents[2] / "src"
PUBLIC = {"vpnsmm", "vpnsmm.domain", "vpnsmm.application", "vpnsmm.testing", "vpnsmm.testing.contracts"}
BLOCK = re.compile(r"```python\n# file: (?P<path>\S+)\n(?P<code>.*?)```", re.S)


def doc_files() -> dict[str, str]:
    return {m["path"]: m["code"] for m in BLOCK.finditer(DOC.read_text())}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fresh-shop")
    assert not root.is_relative_to(SRC)
    for path, code in doc_files().items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code)
    (root / "shop" / "__init__.py").touch()
    return root


def run(project: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VPNSMM_", "PYTHONPATH"))}
    result = subprocess.run([sys.executable, *args], cwd=project, capture_output=True, text=True, env=env,
                            timeout=300, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout


def test_the_docs_hold_the_project_files() -> None:
    assert set(doc_files()) == {"shop/buy.py", "shop/acme_panel.py", "shop/sell_on_acme.py",
                                "tests/test_acme_contract.py", "tests/test_pricing.py"}


def test_the_project_imports_only_public_modules(project: Path) -> None:
    for path in doc_files():
        tree = ast.parse((project / path).read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if name.split(".")[0] == "vpnsmm":
                    assert name in PUBLIC, f"{path} imports the internal module {name}"


def test_a_purchase_runs_through_the_library(project: Path) -> None:
    out = run(project, "-m", "shop.buy")
    assert re.search(r"subscription: http://\S+/sub/\S+", out), out
    assert "balance: 15.00 USD" in out


def test_the_custom_adapter_is_plugged_in_and_sells(project: Path) -> None:
    assert "acme now holds: ['acc-1']" in run(project, "-m", "shop.sell_on_acme")


def test_the_projects_own_tests_pass_the_contract_and_hypothesis(project: Path) -> None:
    out = run(project, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests")
    assert re.search(r"\b18 passed\b", out), out  # 15 contract checks + the whole-suite run + 2 properties
