"""ASGI factory for uvicorn: ``uvicorn --factory vpnsmm.entrypoints.http.asgi:create_app_from_env``."""

from __future__ import annotations

from litestar import Litestar

from vpnsmm.config import load_settings
from vpnsmm.container import build_container
from vpnsmm.entrypoints.http.app import create_app
from vpnsmm.entrypoints.logging import configure_logging


def create_app_from_env() -> Litestar:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(build_container(settings))
