from __future__ import annotations

import stat
from pathlib import Path

import pytest

from vpnsmm.config import ConfigError, load_settings


def test_defaults_give_sqlite_in_the_data_dir_and_a_persisted_secret(tmp_path: Path) -> None:
    first = load_settings({"VPNSMM_DATA_DIR": str(tmp_path / "d")})
    second = load_settings({"VPNSMM_DATA_DIR": str(tmp_path / "d")})
    assert first.effective_database_url == f"sqlite+aiosqlite:///{(tmp_path / 'd' / 'vpnsmm.db').resolve()}"
    assert len(first.secret_key) >= 32 and first.secret_key == second.secret_key
    mode = (tmp_path / "d" / "secret_key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_environment_overrides_the_toml_file(tmp_path: Path) -> None:
    (tmp_path / "vpnsmm.toml").write_text('port = 9000\nlog_level = "debug"\naccess_token_ttl = 60\n')
    settings = load_settings({"VPNSMM_DATA_DIR": str(tmp_path), "VPNSMM_PORT": "9100"})
    assert (settings.port, settings.log_level, settings.access_token_ttl) == (9100, "DEBUG", 60)


def test_postgres_urls_are_normalised_to_asyncpg(tmp_path: Path) -> None:
    settings = load_settings({"VPNSMM_DATA_DIR": str(tmp_path), "VPNSMM_DATABASE_URL": "postgres://u@h/db"})
    assert settings.database_url == "postgresql+asyncpg://u@h/db" and not settings.is_sqlite


@pytest.mark.parametrize(("name", "value", "fragment"), [
    ("VPNSMM_PORT", "abc", "expected an integer"),
    ("VPNSMM_PORT", "70000", "between 1 and 65535"),
    ("VPNSMM_DATABASE_URL", "mysql://x", "expected sqlite+aiosqlite"),
    ("VPNSMM_SECRET_KEY", "short", "at least 32"),
    ("VPNSMM_LOG_FORMAT", "xml", "expected one of"),
    ("VPNSMM_CORS_ORIGINS", "*", "wildcards"),
    ("VPNSMM_ACCESS_TOKEN_TTL", "5", "between 30"),
])
def test_a_bad_setting_is_one_line_naming_it(tmp_path: Path, name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"VPNSMM_DATA_DIR": str(tmp_path), name: value})
    message = str(caught.value)
    assert "\n" not in message and name in message and fragment in message


def test_missing_or_broken_toml_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({"VPNSMM_DATA_DIR": str(tmp_path), "VPNSMM_CONFIG": str(tmp_path / "nope.toml")})
    bad = tmp_path / "bad.toml"
    bad.write_text("port = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"VPNSMM_DATA_DIR": str(tmp_path), "VPNSMM_CONFIG": str(bad)})
