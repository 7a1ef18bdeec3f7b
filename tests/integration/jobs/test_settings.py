"""The job and rate-limit settings parse, and bad values fail naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from vpnsmm.config import ConfigError, load_settings


def _load(tmp_path: Path, **env: str) -> object:
    return load_settings({"VPNSMM_DATA_DIR": str(tmp_path), **{f"VPNSMM_{k}": v for k, v in env.items()}},
                         persist_secret=False)


def test_defaults_and_good_values(tmp_path: Path) -> None:
    settings = load_settings({"VPNSMM_DATA_DIR": str(tmp_path)}, persist_secret=False)
    assert (settings.rate_limits, settings.jobs_in_process, settings.job_concurrency, settings.job_lease_seconds,
            settings.job_poll_ms, settings.job_schedules, settings.job_modules) == (
        "default", "auto", 4, 60, 1000, "", ())
    custom = load_settings({"VPNSMM_DATA_DIR": str(tmp_path), "VPNSMM_RATE_LIMITS": "auth=5/60",
                            "VPNSMM_JOB_SCHEDULES": "a=every:5; b=cron:0,30 * * * *",
                            "VPNSMM_JOB_MODULES": "my.tasks, other", "VPNSMM_JOBS_IN_PROCESS": "OFF"},
                           persist_secret=False)
    assert (custom.rate_limits, custom.job_modules, custom.jobs_in_process) == (
        "auth=5/60", ("my.tasks", "other"), "off")


@pytest.mark.parametrize(("name", "value"), [
    ("RATE_LIMITS", "auth=ten/60"), ("RATE_LIMITS", "bogus=1/60"), ("JOB_SCHEDULES", "sync=hourly"),
    ("JOB_MODULES", "not a module"), ("JOBS_IN_PROCESS", "maybe"), ("JOB_CONCURRENCY", "0"),
    ("JOB_LEASE_SECONDS", "0"), ("JOB_POLL_MS", "1"),
])
def test_bad_values_name_the_setting(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, **{name: value})
    assert error.value.setting == f"VPNSMM_{name}"
