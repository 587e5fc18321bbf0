"""Typed settings from, in rising priority: defaults, the config file, the environment, flags.

Every value is checked here, once, and a bad one raises `SettingsError` naming the
setting and where it came from, so no command ever starts half-configured.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from metrika_tui import locations
from metrika_tui.tokens import OAuthApp, Token

DEFAULT_API_URL = "https://api-metrika.yandex.net"
DEFAULT_OAUTH_URL = "https://oauth.yandex.ru"
DEFAULT_LOGIN_URL = "https://login.yandex.ru"
DEFAULT_HEARTBEAT_SECONDS = 10


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names it and its source."""


@dataclass(frozen=True, slots=True)
class Settings:
    db_path: Path = field(default_factory=locations.default_db)
    api_url: str = DEFAULT_API_URL
    interval_minutes: int = 60
    timezone: str = "Europe/Moscow"
    #: jobs at once in this process; each has one request in flight, so 30 keep max_rps (30 a
    #: second) busy while answers take up to a second. Fewer leave the rate unused: 6 used
    #: half of it at 300 ms (bench/quota_efficiency.py). Idle ones cost one read a second in all
    workers: int = 30
    per_token_jobs: int = 3  # running jobs per Yandex login (its accounts together), across every process
    per_token_requests: int = 3  # requests in flight per Yandex login, this process
    max_rps: float = 30.0  # requests a second to the API's address, shared by every process on the host
    report_budget: int = 200  # report requests per Yandex login per report_window_seconds
    report_window_seconds: int = 300
    backfill_days: int = 90  # first sync of a counter reads this far back
    lookback_days: int = 3  # later syncs re-read the last days: they are not final
    max_attempts: int = 5
    #: quota answers of unknown reset a job may wait out before it fails with the API's message
    max_deferrals: int = 10
    #: the daily quota of each Yandex login (Metrika: 5,000, reset at 00:00 UTC), and the share
    #: of it kept for force-syncs: planning spreads the rest evenly over the day
    requests_per_day: int = 5000
    reserve_percent: int = 5
    #: how a sync reads a month's users: "totals" (one request a month, from its answer's
    #: totals) or "dimension" (a second request by ym:s:startOfMonth)
    month_users: str = "totals"
    #: a worker's lease on its job, renewed every `heartbeat_seconds` while the job runs: a dead
    #: process on another host gives its jobs back this long after its last heartbeat (on the
    #: same host, at once: its pid is gone)
    lease_seconds: int = 30
    heartbeat_seconds: int | None = None  # None: 10, or a third of a shorter lease
    max_lost: int = 5  # a job whose worker died this many times fails ("its worker died 5 times")
    request_timeout: float = 30.0  # seconds without a byte of the answer
    request_deadline_seconds: float = 120.0  # seconds for a whole request, however it trickles
    max_answer_bytes: int = 16 * 1024 * 1024  # a bigger answer is a bad answer, read no further
    log_file: Path = field(default_factory=locations.default_log_file)
    log_format: str = "text"  # or "json"
    keys: Mapping[str, str] = field(default_factory=dict)  # binding id -> key(s)
    demo: bool = False
    #: Yandex ID: the OAuth server and the login info (a mirror, or the simulator in tests)
    oauth_url: str = DEFAULT_OAUTH_URL
    login_url: str = DEFAULT_LOGIN_URL
    #: the app registered on Yandex OAuth that `accounts login` and token refreshes speak for
    oauth_client_id: str = ""
    oauth_client_secret: Token | None = None
    #: where the daemon and the console serve Prometheus metrics (/metrics); None: not served,
    #: 0: a free port (told at start). Loopback by default: the figures name logins
    metrics_port: int | None = None
    metrics_address: str = "127.0.0.1"

    @property
    def interval(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.interval_minutes)

    @property
    def heartbeat(self) -> float:
        """Seconds between lease renewals."""
        return self.heartbeat_seconds or min(DEFAULT_HEARTBEAT_SECONDS, self.lease_seconds / 3)

    @property
    def reserve_requests(self) -> int:
        """Requests of each login's day kept for force-syncs (never planned automatically)."""
        return -(-self.requests_per_day * self.reserve_percent // 100)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def oauth_app(self) -> OAuthApp | None:
        """The registered OAuth app, or None when not configured."""
        if not self.oauth_client_id or self.oauth_client_secret is None:
            return None
        return OAuthApp(self.oauth_client_id, self.oauth_client_secret)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


# name in Settings -> (environment variable, config file section.key)
_SOURCES: dict[str, tuple[str | None, str | None]] = {
    "db_path": ("METRIKA_DB", "database.path"),
    "api_url": ("METRIKA_API_URL", "api.url"),
    "interval_minutes": ("METRIKA_SYNC_INTERVAL_MINUTES", "sync.interval_minutes"),
    "timezone": ("APP_TIMEZONE", "sync.timezone"),
    "workers": ("METRIKA_WORKERS", "sync.workers"),
    "per_token_jobs": ("METRIKA_PER_TOKEN_JOBS", "sync.per_token_jobs"),
    "per_token_requests": ("METRIKA_PER_TOKEN_REQUESTS", "api.per_token_requests"),
    "max_rps": ("METRIKA_MAX_RPS", "api.max_rps"),
    "report_budget": ("METRIKA_REPORT_BUDGET", "api.report_budget"),
    "report_window_seconds": (None, "api.report_window_seconds"),
    "backfill_days": ("METRIKA_BACKFILL_DAYS", "sync.backfill_days"),
    "lookback_days": ("METRIKA_LOOKBACK_DAYS", "sync.lookback_days"),
    "max_attempts": ("METRIKA_MAX_ATTEMPTS", "sync.max_attempts"),
    "max_deferrals": ("METRIKA_MAX_DEFERRALS", "sync.max_deferrals"),
    "requests_per_day": ("METRIKA_REQUESTS_PER_DAY", "quota.requests_per_day"),
    "reserve_percent": ("METRIKA_RESERVE_PERCENT", "quota.reserve_percent"),
    "month_users": ("METRIKA_MONTH_USERS", "sync.month_users"),
    "lease_seconds": ("METRIKA_LEASE_SECONDS", "sync.lease_seconds"),
    "heartbeat_seconds": ("METRIKA_HEARTBEAT_SECONDS", "sync.heartbeat_seconds"),
    "max_lost": ("METRIKA_MAX_LOST", "sync.max_lost"),
    "request_timeout": ("METRIKA_REQUEST_TIMEOUT", "api.request_timeout"),
    "request_deadline_seconds": ("METRIKA_REQUEST_DEADLINE_SECONDS", "api.request_deadline_seconds"),
    "max_answer_bytes": ("METRIKA_MAX_ANSWER_BYTES", "api.max_answer_bytes"),
    "log_file": ("METRIKA_LOG_FILE", "log.file"),
    "log_format": ("METRIKA_LOG_FORMAT", "log.format"),
    "oauth_url": ("METRIKA_OAUTH_URL", "oauth.url"),
    "login_url": ("METRIKA_LOGIN_URL", "oauth.login_url"),
    "oauth_client_id": ("METRIKA_CLIENT_ID", "oauth.client_id"),
    "oauth_client_secret": ("METRIKA_CLIENT_SECRET", "oauth.client_secret"),
    "metrics_port": ("METRIKA_METRICS_PORT", "metrics.port"),
    "metrics_address": ("METRIKA_METRICS_ADDRESS", "metrics.address"),
}

_POSITIVE_INT = {
    "interval_minutes",
    "workers",
    "per_token_jobs",
    "per_token_requests",
    "report_budget",
    "report_window_seconds",
    "backfill_days",
    "max_attempts",
    "lease_seconds",
    "max_deferrals",
    "requests_per_day",
    "max_answer_bytes",
    "heartbeat_seconds",
    "max_lost",
}
#: the largest whole numbers that make sense (beyond them dates overflow, SQLite integers
#: overflow, or a process starts a million tasks); others stop at a million
_LARGEST = {
    "interval_minutes": 366 * 24 * 60,  # a pass at least once a year
    "backfill_days": 36_600,
    "lookback_days": 36_600,  # a century of days
    "workers": 1000,
    "per_token_jobs": 1000,
    "per_token_requests": 1000,
    "reserve_percent": 90,  # the rest is what planning spends
    "report_window_seconds": 86_400,  # Metrika's longest quota window is a day
    "max_answer_bytes": 1024**3,
    "metrics_port": 65535,
}
#: whole numbers that may be zero
_NON_NEGATIVE_INT = {"lookback_days", "reserve_percent", "metrics_port"}
#: the smallest whole numbers that make sense, where 1 does not
_SMALLEST = {"max_answer_bytes": 64 * 1024}  # a page of counters is tens of kilobytes
#: numbers with a fraction: (smallest, largest). Below 0.1 requests a second a pass of a few
#: counters takes minutes per request; a timeout under 0.1 s fails on loopback
_FLOATS = {
    "max_rps": (0.1, 1000.0),
    "request_timeout": (0.1, 3600.0),
    "request_deadline_seconds": (1.0, 86_400.0),
}
_URL_SCHEMES = ("http", "https")


def _coerce(name: str, raw: Any, source: str) -> Any:
    """Turn a raw value into the setting's type, or say clearly why not."""
    where = f"{name.replace('_', '-')} (from {source})"
    try:
        if name in _POSITIVE_INT or name in _NON_NEGATIVE_INT:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            value = int(str(raw).strip())
            if value < (0 if name in _NON_NEGATIVE_INT else 1):
                least = "zero or more" if name in _NON_NEGATIVE_INT else "above zero"
                raise SettingsError(f"{where} must be a whole number {least}, not {raw!r}")
            if value < (smallest := _SMALLEST.get(name, 0)):
                raise SettingsError(f"{where} must be at least {smallest}, not {raw!r}")
            if value > (largest := _LARGEST.get(name, 1_000_000)):
                raise SettingsError(f"{where} must be at most {largest}, not {raw!r}")
            return value
        if name in _FLOATS:
            value = float(str(raw).strip()) if not isinstance(raw, bool) else math.nan
            if not value > 0 or not math.isfinite(value):
                raise SettingsError(f"{where} must be a number above zero, not {raw!r}")
            low, high = _FLOATS[name]
            if not low <= value <= high:
                raise SettingsError(f"{where} must be between {low:g} and {high:g}, not {raw!r}")
            return value
    except ValueError as exc:
        if isinstance(exc, SettingsError):
            raise
        kind = "a number" if name in _FLOATS else "a whole number"
        raise SettingsError(f"{where} must be {kind}, not {raw!r}") from None
    if name in {"db_path", "log_file"}:
        if not str(raw).strip():
            raise SettingsError(f"{where} is empty")
        return Path(str(raw)).expanduser()
    if name == "timezone":
        try:
            ZoneInfo(str(raw))
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"{where}: unknown time zone {raw!r} (try Europe/Moscow or UTC)") from None
        return str(raw)
    if name == "oauth_client_id":
        value = str(raw).strip()
        if not value or len(value) > 100 or not value.isascii() or not value.isprintable() or " " in value:
            raise SettingsError(f"{where} must be the app's ID from oauth.yandex.ru (printable, no spaces)")
        return value
    if name == "oauth_client_secret":  # never echoed back, not even in part
        try:
            return Token(str(raw))
        except ValueError as exc:
            raise SettingsError(f"{where}: not a usable client secret ({exc})") from None
    if name in ("api_url", "oauth_url", "login_url"):
        return _api_url(str(raw), where)
    if name == "log_format":
        if raw not in ("text", "json"):
            raise SettingsError(f"{where} must be 'text' or 'json', not {raw!r}")
        return raw
    if name == "metrics_address":
        return _address(str(raw), where)
    if name == "month_users":
        if raw not in ("totals", "dimension"):
            raise SettingsError(f"{where} must be 'totals' or 'dimension', not {raw!r}")
        return raw
    return raw


def _address(raw: str, where: str) -> str:
    """An IP address (127.0.0.1, ::1, 0.0.0.0) or a host name to listen on."""
    value = raw.strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not re.fullmatch(
        r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*",
        value,
    ):
        raise SettingsError(f"{where} must be an IP address or a host name to listen on, not {raw!r}")
    return value


def _api_url(raw: str, where: str) -> str:
    """The API's base URL, parsed whole: http(s), a host, a port 1-65535, nothing else odd."""
    if not raw.strip().startswith(("http://", "https://")):
        raise SettingsError(f"{where} must start with http:// or https://, not {raw!r}")
    url = raw.strip().rstrip("/")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise SettingsError(f"{where} must be a plain URL (printable ASCII, no spaces), not {raw!r}")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port past 65535 or one that is not a number
    except ValueError as exc:
        raise SettingsError(f"{where} is not a usable URL ({exc}): {raw!r}") from None
    if parts.scheme not in _URL_SCHEMES or not parts.hostname:
        raise SettingsError(f"{where} has no host name: {raw!r}")
    if port == 0:
        raise SettingsError(f"{where}: the port must be 1-65535, not 0")
    if parts.username is not None or parts.password is not None:
        raise SettingsError(f"{where} must not hold a user or password (they would show in logs)")
    if parts.query or parts.fragment:
        raise SettingsError(f"{where} must not have a query or a fragment: {raw!r}")
    return url


def _check_together(values: Mapping[str, Any]) -> None:
    """Rules between settings: a whole request cannot have less time than one of its reads, nor
    a lease less than the time between its renewals."""
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    timeout = values.get("request_timeout", defaults["request_timeout"])
    deadline = values.get("request_deadline_seconds", defaults["request_deadline_seconds"])
    if deadline < timeout:
        raise SettingsError(
            f"request-deadline-seconds ({deadline:g}) must be at least "
            f"request-timeout ({timeout:g}): a whole request includes its reads"
        )
    heartbeat, lease = values.get("heartbeat_seconds"), values.get("lease_seconds", defaults["lease_seconds"])
    if heartbeat is not None and heartbeat >= lease:
        raise SettingsError(
            f"heartbeat-seconds ({heartbeat}) must be shorter than lease-seconds ({lease}):"
            " a lease would run out between two renewals"
        )


def read_config_file(path: Path) -> dict[str, Any]:
    """The config file as a dict; a missing file is an empty config, a broken one an error."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"config file {path} is not valid TOML: it is not UTF-8 text") from None
    except OSError as exc:
        raise SettingsError(f"config file {path} cannot be read: {exc.strerror}") from None


def _lookup(config: Mapping[str, Any], dotted: str, path: Path) -> Any:
    node: Any = config
    for depth, part in enumerate(dotted.split(".")):
        if not isinstance(node, Mapping):  # `sync = 5` where [sync] is a table of settings
            section = ".".join(dotted.split(".")[:depth])
            raise SettingsError(f"config file {path}: [{section}] must be a table of settings, not {node!r}")
        if part not in node:
            return None
        node = node[part]
    return node


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_path: Path | None = None,
) -> Settings:
    """Build Settings from every source; flags whose value is None are treated as unset."""
    environ = os.environ if environ is None else environ
    config_path = config_path or locations.config_file()
    config = read_config_file(config_path)
    values: dict[str, Any] = {}
    for name, (env_name, key) in _SOURCES.items():
        if key is not None and (raw := _lookup(config, key, config_path)) is not None:
            values[name] = _coerce(name, raw, f"{config_path} [{key}]")
        if env_name is not None and environ.get(env_name, "").strip():
            values[name] = _coerce(name, environ[env_name], f"${env_name}")
        if flags and flags.get(name) is not None:
            values[name] = _coerce(name, flags[name], f"--{name.replace('_', '-')}")
    keys = config.get("keys", {})
    if not isinstance(keys, Mapping) or not all(isinstance(v, str) for v in keys.values()):
        raise SettingsError(f"config file {config_path} [keys]: each entry must be a key string")
    values["keys"] = dict(keys)
    if flags and flags.get("demo"):
        values["demo"] = True
        if not (flags.get("db_path") or environ.get("METRIKA_DB", "").strip()):
            values["db_path"] = locations.demo_db()
    _check_together(values)
    return Settings(**values)
