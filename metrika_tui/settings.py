"""Typed settings from, in rising priority: defaults, the config file, the environment, flags.

Every value is checked here, once, and a bad one raises `SettingsError` naming the
setting and where it came from, so no command ever starts half-configured.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import ipaddress
import math
import os
import re
import socket
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from metrika_tui import locations
from metrika_tui.store_location import LocationError, StoreLocation
from metrika_tui.tokens import OAuthApp, Token

DEFAULT_API_URL = "https://api-metrika.yandex.net"
DEFAULT_OAUTH_URL = "https://oauth.yandex.ru"
DEFAULT_LOGIN_URL = "https://login.yandex.ru"
DEFAULT_HEARTBEAT_SECONDS = 10


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names it and its source."""


# Kinds of value: each turns a raw value (TOML, an environment string, a flag) into the
# setting's type or raises SettingsError naming the setting (`where`), and describes itself
# for docs/configuration.md.


@dataclass(frozen=True, slots=True)
class Whole:
    """A whole number in [low, high]; low 0 allows zero."""

    low: int = 1
    high: int = 1_000_000

    def __call__(self, raw: Any, where: str) -> int:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise SettingsError(f"{where} must be a whole number, not {raw!r}")
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise SettingsError(f"{where} must be a whole number, not {raw!r}") from None
        if value < min(self.low, 1):
            least = "zero or more" if self.low == 0 else "above zero"
            raise SettingsError(f"{where} must be a whole number {least}, not {raw!r}")
        if value < self.low:
            raise SettingsError(f"{where} must be at least {self.low}, not {raw!r}")
        if value > self.high:
            raise SettingsError(f"{where} must be at most {self.high}, not {raw!r}")
        return value

    def describe(self) -> str:
        return f"whole number, {self.low}-{self.high}"


@dataclass(frozen=True, slots=True)
class Number:
    """A finite number above zero in [low, high]."""

    low: float
    high: float

    def __call__(self, raw: Any, where: str) -> float:
        try:
            value = float(str(raw).strip()) if not isinstance(raw, bool) else math.nan
        except ValueError:
            raise SettingsError(f"{where} must be a number, not {raw!r}") from None
        if not value > 0 or not math.isfinite(value):
            raise SettingsError(f"{where} must be a number above zero, not {raw!r}")
        if not self.low <= value <= self.high:
            raise SettingsError(f"{where} must be between {self.low:g} and {self.high:g}, not {raw!r}")
        return value

    def describe(self) -> str:
        return f"number, {self.low:g}-{self.high:g}"


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a few words."""

    words: tuple[str, ...]

    def __call__(self, raw: Any, where: str) -> str:
        if raw not in self.words:
            shown = " or ".join(repr(w) for w in self.words)
            raise SettingsError(f"{where} must be {shown}, not {raw!r}")
        return str(raw)

    def describe(self) -> str:
        return " or ".join(f"`{w}`" for w in self.words)


class Kind:
    """A value checked by a function of (raw, where), described in a few words."""

    __slots__ = ("check", "words")

    def __init__(self, check: Callable[[Any, str], Any], words: str) -> None:
        self.check, self.words = check, words

    def __call__(self, raw: Any, where: str) -> Any:
        return self.check(raw, where)

    def describe(self) -> str:
        return self.words


def _path(raw: Any, where: str) -> Path:
    if not str(raw).strip():
        raise SettingsError(f"{where} is empty")
    return Path(str(raw)).expanduser()


def _location(raw: Any, where: str) -> StoreLocation:
    if not str(raw).strip():
        raise SettingsError(f"{where} is empty")
    try:
        return StoreLocation.parse(raw if isinstance(raw, StoreLocation | Path) else str(raw))
    except LocationError as exc:
        raise SettingsError(f"{where}: {exc}") from None


def _zone(raw: Any, where: str) -> str:
    try:
        ZoneInfo(str(raw))
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{where}: unknown time zone {raw!r} (try Europe/Moscow or UTC)") from None
    return str(raw)


def _client_id(raw: Any, where: str) -> str:
    value = str(raw).strip()
    if not value or len(value) > 100 or not value.isascii() or not value.isprintable() or " " in value:
        raise SettingsError(f"{where} must be the app's ID from oauth.yandex.ru (printable, no spaces)")
    return value


def _secret(raw: Any, where: str) -> Token:
    """Never echoed back, not even in part."""
    try:
        return Token(str(raw))
    except ValueError as exc:
        raise SettingsError(f"{where}: not a usable client secret ({exc})") from None


PATH = Kind(_path, "path (`~` expanded)")
LOCATION = Kind(_location, "a path (SQLite, `~` expanded) or `postgresql://user:password@host:port/dbname`")
ZONE = Kind(_zone, "IANA time zone")
URL = Kind(lambda raw, where: _api_url(str(raw), where), "http(s) URL, no user, query or fragment")
ADDRESS = Kind(lambda raw, where: _address(str(raw), where), "IP address or host name")
SOURCE = Kind(lambda raw, where: _source_address(str(raw), where), "IP address of this machine")
CLIENT_ID = Kind(_client_id, "printable ASCII, no spaces")
SECRET = Kind(_secret, "secret (never shown)")


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the settings table: where a value may come from, how it is checked, what it is."""

    name: str  # the Settings field
    section: str
    key: str
    env: str | None
    kind: Whole | Number | Choice | Kind
    doc: str
    flag: str | None = None
    default_doc: str | None = None  # for defaults that depend on the machine

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.key}"


def setting(
    default: Any,
    section: str,
    key: str,
    kind: Whole | Number | Choice | Kind,
    doc: str,
    *,
    env: str | None = None,
    flag: str | None = None,
    factory: Callable[[], Any] | None = None,
    default_doc: str | None = None,
) -> Any:
    """A Settings field that is also a row of the table (the field's name is filled in below)."""
    row = Setting("", section, key, env, kind, doc, flag, default_doc)
    if factory is not None:
        return field(default_factory=factory, metadata={"setting": row})
    return field(default=default, metadata={"setting": row})


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting, each declared once: its default, sources, check and words for the docs."""

    db_path: StoreLocation = setting(
        None,
        "database",
        "path",
        LOCATION,
        "the SQLite database file, or a PostgreSQL URL (its password never shown; not in `--db`)",
        env="METRIKA_DB",
        flag="--db",
        factory=lambda: StoreLocation.file(locations.default_db()),
        default_doc="`metrika.db` in the data folder (`metrika-tui paths`)",
    )
    api_url: str = setting(
        DEFAULT_API_URL, "api", "url", URL, "the Metrika API's base URL", env="METRIKA_API_URL", flag="--api-url"
    )
    interval_minutes: int = setting(
        60,
        "sync",
        "interval_minutes",
        Whole(1, 366 * 24 * 60),  # a pass at least once a year
        "minutes between scheduled passes",
        env="METRIKA_SYNC_INTERVAL_MINUTES",
        flag="--interval-minutes",
    )
    timezone: str = setting(
        "Europe/Moscow",
        "sync",
        "timezone",
        ZONE,
        "the zone the schedule's slots are anchored in",
        env="APP_TIMEZONE",
        flag="--timezone",
    )
    workers: int = setting(
        30,
        "sync",
        "workers",
        Whole(1, 1000),
        "jobs at once in this process, one request in flight each: enough to keep `max_rps` busy"
        ' (docs/performance.md, "Choosing workers")',
        env="METRIKA_WORKERS",
        flag="--workers",
    )
    per_token_jobs: int = setting(
        3,
        "sync",
        "per_token_jobs",
        Whole(1, 1000),
        "running jobs per Yandex login (its accounts together), across every process",
        env="METRIKA_PER_TOKEN_JOBS",
    )
    source_address: str | None = setting(
        None,
        "api",
        "source_address",
        SOURCE,
        "the local address requests leave from (one address a host: Metrika's 30 requests/s are"
        " counted per address, and the request pace is shared by this address's processes)",
        env="METRIKA_SOURCE_ADDRESS",
        default_doc="the one the system picks",
    )
    per_token_requests: int = setting(
        3,
        "api",
        "per_token_requests",
        Whole(1, 1000),
        "requests in flight per Yandex login, this process",
        env="METRIKA_PER_TOKEN_REQUESTS",
    )
    max_rps: float = setting(
        30.0,
        "api",
        "max_rps",
        Number(0.1, 1000.0),
        "requests a second to the API's address, shared by every process on the host",
        env="METRIKA_MAX_RPS",
    )
    report_budget: int = setting(
        200,
        "api",
        "report_budget",
        Whole(),
        "report requests per Yandex login per `report_window_seconds`",
        env="METRIKA_REPORT_BUDGET",
    )
    report_window_seconds: int = setting(
        300,
        "api",
        "report_window_seconds",
        Whole(1, 86_400),  # Metrika's longest quota window is a day
        "the window of `report_budget`",
    )
    backfill_days: int = setting(
        90,
        "sync",
        "backfill_days",
        Whole(1, 36_600),
        "a counter's first sync reads this far back",
        env="METRIKA_BACKFILL_DAYS",
    )
    lookback_days: int = setting(
        3,
        "sync",
        "lookback_days",
        Whole(0, 36_600),  # a century of days: beyond it dates overflow
        "later syncs re-read the newest days: they are not final",
        env="METRIKA_LOOKBACK_DAYS",
    )
    max_attempts: int = setting(
        5, "sync", "max_attempts", Whole(), "tries of a job before it fails", env="METRIKA_MAX_ATTEMPTS"
    )
    max_deferrals: int = setting(
        10,
        "sync",
        "max_deferrals",
        Whole(),
        "quota answers of unknown reset a job may wait out before it fails with the API's message",
        env="METRIKA_MAX_DEFERRALS",
    )
    requests_per_day: int = setting(
        5000,
        "quota",
        "requests_per_day",
        Whole(),
        "the daily quota of each Yandex login (Metrika: reset at 00:00 UTC)",
        env="METRIKA_REQUESTS_PER_DAY",
    )
    reserve_percent: int = setting(
        5,
        "quota",
        "reserve_percent",
        Whole(0, 90),  # the rest is what planning spends
        "the share of the day kept for force-syncs; planning spreads the rest evenly over the day",
        env="METRIKA_RESERVE_PERCENT",
    )
    month_users: str = setting(
        "totals",
        "sync",
        "month_users",
        Choice(("totals", "dimension")),
        "how a sync reads a month's users: from its answer's totals (one request a month),"
        " or a second request by ym:s:startOfMonth",
        env="METRIKA_MONTH_USERS",
    )
    lease_seconds: int = setting(
        30,
        "sync",
        "lease_seconds",
        Whole(),
        "a worker's lease on its job: a dead process on another host gives its jobs back this long"
        " after its last heartbeat (on the same host, at once)",
        env="METRIKA_LEASE_SECONDS",
    )
    heartbeat_seconds: int | None = setting(
        None,
        "sync",
        "heartbeat_seconds",
        Whole(),
        "seconds between lease renewals, shorter than the lease",
        env="METRIKA_HEARTBEAT_SECONDS",
        default_doc=f"{DEFAULT_HEARTBEAT_SECONDS}, or a third of a shorter lease",
    )
    max_lost: int = setting(
        5,
        "sync",
        "max_lost",
        Whole(),
        "a job whose worker died this many times fails",
        env="METRIKA_MAX_LOST",
    )
    request_timeout: float = setting(
        30.0,
        "api",
        "request_timeout",
        Number(0.1, 3600.0),
        "seconds without a byte of the answer",
        env="METRIKA_REQUEST_TIMEOUT",
    )
    request_deadline_seconds: float = setting(
        120.0,
        "api",
        "request_deadline_seconds",
        Number(1.0, 86_400.0),
        "seconds for a whole request, however it trickles; at least `request_timeout`",
        env="METRIKA_REQUEST_DEADLINE_SECONDS",
    )
    max_answer_bytes: int = setting(
        16 * 1024 * 1024,
        "api",
        "max_answer_bytes",
        Whole(64 * 1024, 1024**3),  # a page of counters is tens of kilobytes
        "a bigger answer is a bad answer, read no further",
        env="METRIKA_MAX_ANSWER_BYTES",
    )
    log_file: Path = setting(
        None,
        "log",
        "file",
        PATH,
        "the event log the daemon appends to",
        env="METRIKA_LOG_FILE",
        flag="--log-file",
        factory=locations.default_log_file,
        default_doc="`logs/sync.log` in the data folder (`metrika-tui paths`)",
    )
    log_format: str = setting(
        "text",
        "log",
        "format",
        Choice(("text", "json")),
        "the event line format",
        env="METRIKA_LOG_FORMAT",
        flag="--log-format",
    )
    keys: Mapping[str, str] = field(default_factory=dict)  # [keys]: binding id -> key(s), checked by the console
    demo: bool = False
    oauth_url: str = setting(
        DEFAULT_OAUTH_URL,
        "oauth",
        "url",
        URL,
        "Yandex ID's OAuth server (a mirror, or the simulator in tests)",
        env="METRIKA_OAUTH_URL",
    )
    login_url: str = setting(
        DEFAULT_LOGIN_URL, "oauth", "login_url", URL, "Yandex ID's login info", env="METRIKA_LOGIN_URL"
    )
    oauth_client_id: str = setting(
        "",
        "oauth",
        "client_id",
        CLIENT_ID,
        "the app registered on Yandex OAuth that `accounts login` and token refreshes speak for",
        env="METRIKA_CLIENT_ID",
    )
    oauth_client_secret: Token | None = setting(
        None, "oauth", "client_secret", SECRET, "that app's secret", env="METRIKA_CLIENT_SECRET"
    )
    metrics_port: int | None = setting(
        None,
        "metrics",
        "port",
        Whole(0, 65535),
        "where the daemon and the console serve Prometheus metrics (/metrics); 0: a free port",
        env="METRIKA_METRICS_PORT",
        flag="--metrics-port",
        default_doc="not served",
    )
    metrics_address: str = setting(
        "127.0.0.1",
        "metrics",
        "address",
        ADDRESS,
        "the address /metrics listens on; loopback by default: the figures name logins",
        env="METRIKA_METRICS_ADDRESS",
        flag="--metrics-address",
    )

    def __post_init__(self) -> None:
        given: object = self.db_path
        if not isinstance(given, StoreLocation):  # Settings(db_path=a Path), as tests build them
            object.__setattr__(self, "db_path", StoreLocation.parse(cast("Path | str", given)))

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


#: the table: every setting a file, the environment or a flag may give, in the order declared
SETTINGS: tuple[Setting, ...] = tuple(
    dataclasses.replace(f.metadata["setting"], name=f.name) for f in dataclasses.fields(Settings) if f.metadata
)
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
#: the config file's sections and their keys; [keys] holds binding ids, checked by the console
SECTIONS: dict[str, frozenset[str]] = {
    section: frozenset(s.key for s in SETTINGS if s.section == section)
    for section in dict.fromkeys(s.section for s in SETTINGS)
}
KEYS_SECTION = "keys"
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Settings)}


_URL_SCHEMES = ("http", "https")


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


def _source_address(raw: str, where: str) -> str:
    """An IP address this machine can send from: checked by binding a socket to it, so a typo
    stops the command instead of failing every request with a connection error."""
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        raise SettingsError(f"{where} must be an IP address of this machine, not {raw!r}") from None
    if address.is_unspecified or address.is_multicast:
        raise SettingsError(f"{where} must be one address of this machine, not {raw!r}")
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(address), 0))
    except OSError as exc:
        raise SettingsError(f"{where}: {address} is not an address of this machine ({exc.strerror})") from None
    return str(address)


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
    timeout = values.get("request_timeout", _DEFAULTS["request_timeout"])
    deadline = values.get("request_deadline_seconds", _DEFAULTS["request_deadline_seconds"])
    if deadline < timeout:
        raise SettingsError(
            f"request-deadline-seconds ({deadline:g}) must be at least "
            f"request-timeout ({timeout:g}): a whole request includes its reads"
        )
    heartbeat, lease = values.get("heartbeat_seconds"), values.get("lease_seconds", _DEFAULTS["lease_seconds"])
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


def nearest(name: str, known: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the closest known name, or nothing when none is close."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_names(config: Mapping[str, Any], path: Path) -> None:
    """Every section and key of the file is one we read: a typo stops the command, it is never
    silently ignored (the default used instead)."""
    sections = {*SECTIONS, KEYS_SECTION}

    def home(key: str) -> str | None:
        return next((section for section, keys in SECTIONS.items() if key in keys), None)

    for name, node in config.items():
        if name not in sections:
            if (where := home(name)) is not None:  # `interval_minutes = 5` above every section
                raise SettingsError(f"unknown key {name!r} at the top of {path}; it belongs under [{where}]")
            kind = "section" if isinstance(node, Mapping) else "key"
            raise SettingsError(f"unknown {kind} {name!r} in {path}{nearest(name, sections)}")
        if not isinstance(node, Mapping):  # `sync = 5` where [sync] is a table of settings
            raise SettingsError(f"config file {path}: [{name}] must be a table of settings, not {node!r}")
        if name == KEYS_SECTION:
            continue
        for key in node:
            if key not in SECTIONS[name]:
                hint = f"; it belongs under [{where}]" if (where := home(key)) else nearest(key, SECTIONS[name])
                raise SettingsError(f"unknown key {key!r} in {path} [{name}]{hint}")


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
    _check_names(config, config_path)
    values: dict[str, Any] = {}
    for s in SETTINGS:
        where = s.name.replace("_", "-")
        if (raw := config.get(s.section, {}).get(s.key)) is not None:
            values[s.name] = s.kind(raw, f"{where} (from {config_path} [{s.dotted}])")
        if s.env is not None and environ.get(s.env, "").strip():
            values[s.name] = s.kind(environ[s.env], f"{where} (from ${s.env})")
        if s.flag and flags and flags.get(s.name) is not None:
            values[s.name] = s.kind(flags[s.name], f"{where} (from {s.flag})")
            if s.name == "db_path" and values[s.name].password is not None:
                raise SettingsError(
                    f"{where} (from {s.flag}): a password on the command line is readable by every user of"
                    f" this machine; give the URL in ${s.env} or the config file's [{s.section}] {s.key} instead"
                )
    keys = config.get(KEYS_SECTION, {})
    if not all(isinstance(v, str) for v in keys.values()):
        raise SettingsError(f"config file {config_path} [keys]: each entry must be a key string")
    values["keys"] = dict(keys)
    if flags and flags.get("demo"):
        values["demo"] = True
        if not (flags.get("db_path") or environ.get(BY_NAME["db_path"].env or "", "").strip()):
            values["db_path"] = StoreLocation.file(locations.demo_db())
    _check_together(values)
    return Settings(**values)


def shown_default(s: Setting, *, markdown: bool = True) -> str:
    """The default in words: for the docs (as code), or for a flag's help (plain)."""
    if s.default_doc is not None:
        return s.default_doc if markdown else s.default_doc.replace("`", "")
    default = _DEFAULTS[s.name]
    if default in ("", None):
        return "none"
    if not markdown:
        return str(default)
    return f'`"{default}"`' if isinstance(default, str) else f"`{default}`"


def flag_help(name: str, words: str) -> str:
    """A flag's help: its words, then where else the setting comes from and its default."""
    s = BY_NAME[name]
    where = ", ".join(filter(None, [s.env and f"env {s.env}", f"[{s.section}] {s.key}"]))
    return f"{words} ({where}; default {shown_default(s, markdown=False)})"


def render_doc() -> str:
    """The settings part of docs/configuration.md: every setting of the table, by section
    (`python -m metrika_tui.cli.config_doc` adds the console's [keys] and writes the file)."""
    lines = [
        "Settings come from, in rising priority: the defaults, the config file (`metrika-tui paths`"
        " shows where; `--config` or `METRIKA_CONFIG` choose another), the environment, the flags."
        " A bad value, an unknown section or key, an unknown binding id or two actions on one key stop"
        " the command (exit 2) with a message naming the file and the key.",
        "",
    ]
    for section in SECTIONS:
        lines += [
            f"## [{section}]",
            "",
            "| key | environment | flag | value | default | what |",
            "|---|---|---|---|---|---|",
        ]
        for s in (s for s in SETTINGS if s.section == section):
            env, flag = (f"`{s.env}`" if s.env else "", f"`{s.flag}`" if s.flag else "")
            lines.append(f"| `{s.key}` | {env} | {flag} | {s.kind.describe()} | {shown_default(s)} | {s.doc} |")
        lines.append("")
    return "\n".join(lines)
