"""The CLI as an operator uses it: real process, real SQLite file, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def vpnsmm(data_dir: Path, *args: str, stdin: str | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VPNSMM_")}
    full_env.update({"VPNSMM_DATA_DIR": str(data_dir), "COLUMNS": "200", **(env or {})})
    return subprocess.run([sys.executable, "-m", "vpnsmm", *args], input=stdin, capture_output=True, text=True,
                          env=full_env, timeout=60, check=False)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


def test_help_teaches(data_dir: Path) -> None:
    result = vpnsmm(data_dir, "--help")
    assert result.returncode == 0
    for command in ("serve", "db", "users", "demo", "version"):
        assert command in result.stdout
    users_help = vpnsmm(data_dir, "users", "create", "--help").stdout
    assert "--password-stdin" in users_help and "Example" in users_help


def test_users_lifecycle_with_json_output(data_dir: Path) -> None:
    created = vpnsmm(data_dir, "users", "create", "opal", "--email", "opal@x.io", "--role", "operator",
                     "--password-stdin", "--json", stdin="a long password\n")
    assert created.returncode == 0, created.stderr
    user = json.loads(created.stdout)
    assert user["username"] == "opal" and user["role"] == "operator"

    banned = json.loads(vpnsmm(data_dir, "users", "ban", "opal", "--reason", "test", "--json").stdout)
    assert banned["status"] == "banned"
    listed = json.loads(vpnsmm(data_dir, "users", "list", "--banned", "--json").stdout)
    assert [u["username"] for u in listed["items"]] == ["opal"]
    assert json.loads(vpnsmm(data_dir, "users", "unban", str(user["id"]), "--json").stdout)["status"] == "active"
    role = json.loads(vpnsmm(data_dir, "users", "set-role", "opal", "admin", "--json").stdout)
    assert role["role"] == "admin"
    table = vpnsmm(data_dir, "users", "list")
    assert table.returncode == 0 and "opal" in table.stdout


@pytest.mark.parametrize(("args", "stdin", "fragment"), [
    (("users", "show", "nobody-here"), None, "no user 'nobody-here'"),
    (("users", "set-role", "opal", "root"), None, "unknown role"),
    (("users", "create", "x y", "--password-stdin"), "a long password\n", "username may contain only"),
    (("users", "create", "shorty", "--password-stdin"), "123\n", "at least 8"),
    (("users", "create", "nopass", "--password-stdin"), "", "nothing was read"),
])
def test_errors_are_one_line_and_a_non_zero_exit(data_dir: Path, args: tuple[str, ...], stdin: str | None,
                                                 fragment: str) -> None:
    result = vpnsmm(data_dir, *args, stdin=stdin)
    assert result.returncode != 0
    assert fragment in result.stderr and "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


def test_duplicate_user_is_a_clear_error(data_dir: Path) -> None:
    vpnsmm(data_dir, "users", "create", "twin", "--password-stdin", stdin="a long password\n")
    again = vpnsmm(data_dir, "users", "create", "TWIN", "--password-stdin", stdin="a long password\n")
    assert again.returncode == 1 and "username is already taken" in again.stderr


def test_bad_configuration_stops_with_one_line(data_dir: Path) -> None:
    result = vpnsmm(data_dir, "users", "list", env={"VPNSMM_DATABASE_URL": "mysql://nope"})
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: configuration error: VPNSMM_DATABASE_URL")


def test_db_current_and_upgrade(data_dir: Path) -> None:
    assert "database at revision" in vpnsmm(data_dir, "db", "upgrade").stdout
    state = json.loads(vpnsmm(data_dir, "db", "current", "--json").stdout)
    assert state["up_to_date"] is True and state["current"] == state["head"]


def test_demo_prints_working_credentials_and_is_repeatable(data_dir: Path) -> None:
    first = json.loads(vpnsmm(data_dir, "demo", "--json").stdout)
    second = json.loads(vpnsmm(data_dir, "demo", "--json").stdout)
    names = [u["username"] for u in first["users"]]
    assert names == ["demo-admin", "demo-reseller", "demo"]
    assert all(u["created"] for u in first["users"]) and not any(u["created"] for u in second["users"])
    assert first["users"][2]["password"] != second["users"][2]["password"]


def test_version(data_dir: Path) -> None:
    from vpnsmm import __version__

    assert json.loads(vpnsmm(data_dir, "version", "--json").stdout) == {"version": __version__}


def test_plans_add_takes_a_traffic_reset_strategy(data_dir: Path) -> None:
    added = vpnsmm(data_dir, "plans", "add", "CLI weekly", "--price", "1000 IRR", "--traffic-gb", "5",
                   "--traffic-reset", "week", "--json")
    assert added.returncode == 0, added.stderr
    plan = json.loads(added.stdout)
    assert plan["traffic_reset"] == "week" and plan["traffic_bytes"] == 5 * 1024**3
    bad = vpnsmm(data_dir, "plans", "add", "CLI bad", "--price", "1000 IRR", "--traffic-reset", "hourly")
    assert bad.returncode == 2 and "--traffic-reset must be one of" in bad.stderr
    listed = json.loads(vpnsmm(data_dir, "plans", "list", "--json").stdout)
    assert [p["name"] for p in listed if p["name"].startswith("CLI")] == ["CLI weekly"]
