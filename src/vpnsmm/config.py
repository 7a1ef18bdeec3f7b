"""Settings: read once from the environment (``VPNSMM_*``) and an optional TOML file; never at import time.

Precedence, highest first: environment variables, the TOML file (``VPNSMM_CONFIG`` or ``<data_dir>/vpnsmm.toml``),
then defaults. A bad value raises :class:`ConfigError` whose message is one line naming the setting.
The secret key, when not given, is generated on first run and persisted (mode 0600) in the data dir.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import evolve, field, frozen

ENV_PREFIX = "VPNSMM_"


class ConfigError(Exception):
    """A setting is missing or malformed. ``str()`` is a single line naming the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"configuration error: {setting}: {problem}")
        self.setting = setting


@frozen
class Settings:
    """Everything the application needs to start. Build with :func:`load_settings` or directly in tests."""

    data_dir: Path = Path(".vpnsmm")
    database_url: str = ""  # empty = SQLite file in data_dir
    secret_key: str = ""  # empty = generated and persisted in data_dir on first load
    access_token_ttl: int = 900  # seconds (15 minutes)
    refresh_token_ttl: int = 30 * 24 * 3600  # seconds
    jwt_issuer: str = "vpnsmm"
    api_key_prefix: str = "vsm"
    log_level: str = "INFO"
    log_format: str = "console"  # console | json
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # how customers and gateways reach us; defaults to http://host:port
    redis_url: str = ""  # empty = in-process rate limits and events
    rate_limits: str = "default"  # "off", "default" or "auth=10/60,read=100/60,..." (entrypoints/http/ratelimit.py)
    jobs_in_process: str = "auto"  # auto = run jobs inside `vpnsmm serve` on SQLite only; on | off
    smm_forwarding: str = "deferred"  # /api/v2 add: "deferred" (answer, then forward in batches) | "inline"
    job_concurrency: int = 4  # jobs run at once per worker process
    job_lease_seconds: int = 60  # a killed worker's jobs are retried after at most this long
    job_poll_ms: int = 1000  # how often an idle worker looks for due jobs
    job_schedules: str = ""  # "usage.sync=every:300; expiry.enforce=cron:*/5 * * * *; smm.poll=off"
    job_modules: tuple[str, ...] = field(default=())  # extra modules with register_tasks(registry, container)
    max_body_bytes: int = 1_048_576
    db_pool_size: int = 10
    cors_origins: tuple[str, ...] = field(default=())
    # payments (a gateway is enabled when its credentials are set)
    default_currency: str = "IRR"
    zarinpal_merchant_id: str = ""
    zarinpal_sandbox: bool = False
    zarinpal_api_base: str = ""  # override the API host (tests and the demo point it at the in-process fake)
    zarinpal_startpay_base: str = ""
    cryptomus_merchant: str = ""
    cryptomus_api_key: str = ""
    cryptomus_base_url: str = ""
    cryptomus_allowed_ips: tuple[str, ...] = field(default=())
    card_number: str = ""  # card-to-card: the card customers transfer to
    card_holder: str = ""
    card_bank: str = ""
    telegram_admin_id: int | None = None  # the CandyPanel bot admin until its telegram_bot_admin_id setting is set
    # compatibility dialects: name -> URL prefix, or "off" (entrypoints/http/dialects); unnamed ones use their default
    dialects: Mapping[str, str] = field(factory=dict)
    # outgoing webhooks (docs/webhooks.md)
    webhooks_allow_private: bool = False  # allow loopback/private targets (tests, single-host setups)
    webhooks_max_attempts: int = 8  # attempts per delivery, the first included
    webhooks_retry_base_ms: int = 30_000  # first retry after this; doubles each time (capped at 6 h)
    webhooks_timeout_seconds: int = 10  # per attempt
    # vpn: readings that raise usage events (percent of the period quota; days left before expiry)
    vpn_traffic_thresholds: tuple[int, ...] = (80, 100)
    vpn_days_left_thresholds: tuple[int, ...] = (3, 1)
    extra: Mapping[str, str] = field(factory=dict)  # unknown-to-core settings other modules read

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'vpnsmm.db').resolve()}"

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


# name -> (attribute, parser). Parsers raise ValueError with a human message.
def _int_in(lo: int, hi: int) -> Any:
    def parse(raw: object) -> int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValueError(f"expected an integer, got {raw!r}") from None
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {value}")
        return value
    return parse


def _choice(*options: str) -> Any:
    def parse(raw: object) -> str:
        value = str(raw).strip().lower()
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {raw!r}")
        return value
    return parse


def _db_url(raw: object) -> str:
    value = str(raw).strip()
    if not value:
        return ""
    if value.startswith(("postgres://", "postgresql://")):
        # Accept the libpq spelling people paste from their hosting panel; we drive it with asyncpg.
        value = "postgresql+asyncpg://" + value.split("://", 1)[1]
    if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ValueError("expected sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB")
    return value


def _secret(raw: object) -> str:
    value = str(raw).strip()
    if value and len(value) < 32:
        raise ValueError("must be at least 32 characters (256 bits of entropy recommended)")
    return value


def _str(raw: object) -> str:
    return str(raw).strip()


def _level(raw: object) -> str:
    value = str(raw).strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError(f"expected DEBUG, INFO, WARNING or ERROR, got {raw!r}")
    return value


def _origins(raw: object) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else str(raw).split(",")
    origins = tuple(str(o).strip() for o in items if str(o).strip())
    for origin in origins:
        if "*" in origin or not origin.startswith(("http://", "https://")):
            raise ValueError(f"{origin!r} is not a full origin (wildcards are refused on purpose)")
    return origins


def _url_or_empty(raw: object) -> str:
    value = str(raw).strip()
    if value and not value.startswith(("http://", "https://", "redis://", "rediss://", "unix://")):
        raise ValueError(f"{value!r} is not a URL")
    return value


def _rate_limits(raw: object) -> str:
    from vpnsmm.adapters.ratelimit.policy import parse_rate_limits

    value = str(raw).strip() or "default"
    parse_rate_limits(value)  # raises ValueError naming the bad entry
    return value


def _job_schedules(raw: object) -> str:
    from vpnsmm.application.jobs import parse_schedule_overrides
    from vpnsmm.domain.errors import ValidationError

    value = str(raw).strip()
    try:
        parse_schedule_overrides(value)
    except ValidationError as exc:
        raise ValueError(exc.message) from None
    return value


def _modules(raw: object) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else str(raw).split(",")
    names = tuple(str(m).strip() for m in items if str(m).strip())
    for name in names:
        if not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(f"{name!r} is not a module name")
    return names


def _bool(raw: object) -> bool:
    value = str(raw).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _currency(raw: object) -> str:
    from vpnsmm.domain.errors import ValidationError
    from vpnsmm.domain.money import Currency

    try:
        return Currency.parse(raw).value
    except ValidationError as exc:
        raise ValueError(exc.message) from None


def _csv(raw: object) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return tuple(str(i).strip() for i in items if str(i).strip())


def _card(raw: object) -> str:
    from vpnsmm.domain.errors import ValidationError
    from vpnsmm.domain.payments import CardAccount

    value = "".join(ch for ch in str(raw) if not ch.isspace() and ch != "-")
    if not value:
        return ""
    try:
        CardAccount(holder="x", card_number=value, bank="x")
    except ValidationError as exc:
        raise ValueError(exc.message) from None
    return value


def _dialects(raw: object) -> dict[str, str]:
    """``name=/prefix`` or ``name=off`` pairs, comma-separated; names are checked against the registry at startup."""
    items: list[str]
    if isinstance(raw, Mapping):
        items = [f"{k}={v}" for k, v in raw.items()]
    else:
        items = [part for part in str(raw).split(",") if part.strip()]
    result: dict[str, str] = {}
    for item in items:
        name, sep, prefix = (x.strip() for x in item.partition("="))
        if not sep or not name or not prefix:
            raise ValueError(f"expected name=/prefix or name=off, got {item.strip()!r}")
        if prefix.lower() == "off":
            prefix = "off"
        elif not prefix.startswith("/") or any(c.isspace() or c in "{}?#" for c in prefix):
            raise ValueError(f"prefix for {name!r} must be a path starting with '/', got {prefix!r}")
        else:
            prefix = "/" + prefix.strip("/")
        if name in result:
            raise ValueError(f"dialect {name!r} is named twice")
        result[name] = prefix
    return result


def _ints_in(low: int, high: int) -> Any:
    def parse(raw: object) -> tuple[int, ...]:
        items = raw if isinstance(raw, list) else str(raw).split(",")
        try:
            values = tuple(int(str(i).strip()) for i in items if str(i).strip())
        except ValueError:
            raise ValueError("expected comma-separated whole numbers, e.g. 80,100") from None
        if not values or any(not low <= v <= high for v in values):
            raise ValueError(f"expected comma-separated whole numbers in {low}..{high}")
        return values
    return parse


_FIELDS: dict[str, tuple[str, Any]] = {
    "DATABASE_URL": ("database_url", _db_url),
    "SECRET_KEY": ("secret_key", _secret),
    "ACCESS_TOKEN_TTL": ("access_token_ttl", _int_in(30, 86_400)),
    "REFRESH_TOKEN_TTL": ("refresh_token_ttl", _int_in(300, 365 * 86_400)),
    "JWT_ISSUER": ("jwt_issuer", _str),
    "API_KEY_PREFIX": ("api_key_prefix", _str),
    "LOG_LEVEL": ("log_level", _level),
    "LOG_FORMAT": ("log_format", _choice("console", "json")),
    "HOST": ("host", _str),
    "PORT": ("port", _int_in(1, 65_535)),
    "PUBLIC_URL": ("public_url", _url_or_empty),
    "REDIS_URL": ("redis_url", _url_or_empty),
    "RATE_LIMITS": ("rate_limits", lambda raw: _rate_limits(raw)),
    "JOBS_IN_PROCESS": ("jobs_in_process", _choice("auto", "on", "off")),
    "SMM_FORWARDING": ("smm_forwarding", _choice("deferred", "inline")),
    "JOB_CONCURRENCY": ("job_concurrency", _int_in(1, 256)),
    "JOB_LEASE_SECONDS": ("job_lease_seconds", _int_in(1, 3600)),
    "JOB_POLL_MS": ("job_poll_ms", _int_in(10, 60_000)),
    "JOB_SCHEDULES": ("job_schedules", lambda raw: _job_schedules(raw)),
    "JOB_MODULES": ("job_modules", lambda raw: _modules(raw)),
    "MAX_BODY_BYTES": ("max_body_bytes", _int_in(1024, 100 * 1_048_576)),
    "DB_POOL_SIZE": ("db_pool_size", _int_in(1, 200)),
    "CORS_ORIGINS": ("cors_origins", _origins),
    "DEFAULT_CURRENCY": ("default_currency", lambda raw: _currency(raw)),
    "ZARINPAL_MERCHANT_ID": ("zarinpal_merchant_id", _str),
    "ZARINPAL_SANDBOX": ("zarinpal_sandbox", lambda raw: _bool(raw)),
    "ZARINPAL_API_BASE": ("zarinpal_api_base", _url_or_empty),
    "ZARINPAL_STARTPAY_BASE": ("zarinpal_startpay_base", _url_or_empty),
    "CRYPTOMUS_MERCHANT": ("cryptomus_merchant", _str),
    "CRYPTOMUS_API_KEY": ("cryptomus_api_key", _str),
    "CRYPTOMUS_BASE_URL": ("cryptomus_base_url", _url_or_empty),
    "CRYPTOMUS_ALLOWED_IPS": ("cryptomus_allowed_ips", lambda raw: _csv(raw)),
    "CARD_NUMBER": ("card_number", lambda raw: _card(raw)),
    "CARD_HOLDER": ("card_holder", _str),
    "CARD_BANK": ("card_bank", _str),
    "TELEGRAM_ADMIN_ID": ("telegram_admin_id", lambda raw: _int_in(1, 2**63 - 1)(raw) if str(raw).strip() else None),
    "DIALECTS": ("dialects", lambda raw: _dialects(raw)),
    "WEBHOOKS_ALLOW_PRIVATE": ("webhooks_allow_private", lambda raw: _bool(raw)),
    "WEBHOOKS_MAX_ATTEMPTS": ("webhooks_max_attempts", _int_in(1, 50)),
    "WEBHOOKS_RETRY_BASE_MS": ("webhooks_retry_base_ms", _int_in(10, 3_600_000)),
    "WEBHOOKS_TIMEOUT_SECONDS": ("webhooks_timeout_seconds", _int_in(1, 120)),
    "VPN_TRAFFIC_THRESHOLDS": ("vpn_traffic_thresholds", _ints_in(1, 100)),
    "VPN_DAYS_LEFT_THRESHOLDS": ("vpn_days_left_thresholds", _ints_in(1, 3660)),
}


def load_settings(env: Mapping[str, str] | None = None, *, persist_secret: bool = True) -> Settings:
    """Build Settings from ``env`` (default ``os.environ``) and the TOML file it points at.

    Creates the data dir and, when no secret key is configured, a persisted random one.
    Raises ConfigError naming the first bad setting.
    """
    env = os.environ if env is None else env
    data_dir = Path(env.get(f"{ENV_PREFIX}DATA_DIR", "") or ".vpnsmm")
    values: dict[str, Any] = {}

    toml_path = env.get(f"{ENV_PREFIX}CONFIG") or str(data_dir / "vpnsmm.toml")
    file_values: dict[str, Any] = {}
    if Path(toml_path).is_file():
        try:
            file_values = {k.upper(): v for k, v in tomllib.loads(Path(toml_path).read_text("utf-8")).items()}
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{ENV_PREFIX}CONFIG", f"{toml_path} is not valid TOML ({exc})") from None
        if "DATA_DIR" in file_values and f"{ENV_PREFIX}DATA_DIR" not in env:
            data_dir = Path(str(file_values["DATA_DIR"]))
    elif env.get(f"{ENV_PREFIX}CONFIG"):
        raise ConfigError(f"{ENV_PREFIX}CONFIG", f"file {toml_path} does not exist")

    extra: dict[str, str] = {}
    for key, raw in file_values.items():
        if key in _FIELDS:
            values[key] = raw
        elif key != "DATA_DIR":
            extra[key] = str(raw)
    for name, raw in env.items():
        if name.startswith(ENV_PREFIX):
            key = name[len(ENV_PREFIX):]
            if key in _FIELDS:
                values[key] = raw
            elif key not in {"DATA_DIR", "CONFIG"}:
                extra[key] = raw

    parsed: dict[str, Any] = {}
    for key, raw in values.items():
        attr, parse = _FIELDS[key]
        try:
            parsed[attr] = parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{ENV_PREFIX}{key}", str(exc)) from None

    settings = Settings(data_dir=data_dir, extra=extra, **parsed)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{ENV_PREFIX}DATA_DIR", f"cannot create {data_dir}: {exc.strerror}") from None
    if not settings.secret_key:
        settings = evolve(settings, secret_key=_persisted_secret(data_dir) if persist_secret
                          else secrets.token_urlsafe(48))
    return settings


def _persisted_secret(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if path.exists():
        value = path.read_text("utf-8").strip()
        if len(value) < 32:
            raise ConfigError(f"{ENV_PREFIX}SECRET_KEY", f"{path} holds a key shorter than 32 characters")
        return value
    value = secrets.token_urlsafe(48)
    # O_EXCL: two workers starting together must not both write; the loser reads the winner's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _persisted_secret(data_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value
