"""Where the store lives: a SQLite file (a path) or a PostgreSQL database (a URL).

`--db`, `METRIKA_DB` and `[database] path` take either. A URL's password is a secret like a
token: `str()` and `repr()` mask it (`postgresql://user:***@host:5432/db`), and `scrub`
takes it (and the whole URL) out of any text, such as a driver's error message, before
that text is shown or logged. A leaf module: settings, the CLI and the store all use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

#: the schemes libpq accepts for a connection URI
POSTGRES_SCHEMES = ("postgresql", "postgres")
#: the query parameters a URL may carry (libpq's, the ones that make sense here)
URL_PARAMETERS = frozenset(
    {
        "application_name",
        "connect_timeout",
        "host",
        "hostaddr",
        "keepalives",
        "keepalives_idle",
        "options",
        "passfile",
        "password",
        "port",
        "sslcert",
        "sslkey",
        "sslmode",
        "sslrootcert",
        "target_session_attrs",
        "user",
    }
)
MASK = "***"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SHAPE = "postgresql://user@host:5432/dbname"
#: `password=...` in a libpq connection string (quoted or not)
_PASSWORD_SETTING = re.compile(r"password\s*=\s*(?:'(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
#: a password this long is scrubbed wherever it stands, not only where a URL holds it
_BARE_SECRET = 6


class LocationError(ValueError):
    """A `--db` value that is neither a usable path nor a usable database URL; says why."""


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """A SQLite file (`path`) or a PostgreSQL URL (`url`, password and all: never shown)."""

    path: Path | None = None
    url: str | None = None

    @classmethod
    def file(cls, path: Path | str) -> StoreLocation:
        return cls(path=Path(path).expanduser())

    @classmethod
    def parse(cls, raw: StoreLocation | Path | str) -> StoreLocation:
        """A path, or a `postgresql://` / `postgres://` URL checked part by part."""
        if isinstance(raw, StoreLocation):
            return raw
        if isinstance(raw, Path):
            return cls.file(raw)
        text = str(raw).strip()
        if not text:
            raise LocationError("is empty")
        scheme = _SCHEME.match(text)
        if scheme is None:
            return cls.file(text)
        if scheme.group(1).lower() not in POSTGRES_SCHEMES:
            raise LocationError(
                f"{scheme.group(1)!r} is not a database this program knows: give a file path (SQLite)"
                f" or a URL like {_SHAPE}"
            )
        _check_url(text)
        return cls(url=text)

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    @property
    def kind(self) -> str:
        return "PostgreSQL" if self.is_postgres else "SQLite"

    @property
    def password(self) -> str | None:
        """The URL's password (in its user part or its query), None for a file or none given."""
        if self.url is None:
            return None
        parts = urlsplit(self.url)
        if parts.password is not None:
            return unquote(parts.password)
        return dict(parse_qsl(parts.query)).get("password")

    @property
    def database(self) -> str | None:
        """The PostgreSQL database's name."""
        return unquote(urlsplit(self.url).path.lstrip("/")) if self.url else None

    def masked(self) -> str:
        """What may be shown: the path, or the URL with its password as `***`."""
        if self.url is None:
            return str(self.path)
        parts = urlsplit(self.url)
        netloc = parts.netloc
        if parts.password is not None:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.partition(':')[0]}:{MASK}@{host}"
        query = "&".join(
            f"{key}={MASK if key == 'password' else quote(value, safe='/:,')}"
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
        )
        return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return f"StoreLocation({self.masked()!r})"

    def exists(self) -> bool | None:
        """Whether the file is there; None for a server (only connecting would tell)."""
        return None if self.path is None else self.path.exists()

    def with_database(self, name: str) -> StoreLocation:
        """The same server and user, another database (tests make one per test)."""
        if self.url is None:
            raise LocationError("a SQLite file has no databases to choose from")
        parts = urlsplit(self.url)
        return StoreLocation(url=parts._replace(path="/" + quote(name, safe="")).geturl())

    def scrub(self, text: str) -> str:
        """`text` with this URL masked and its password gone, wherever they appear (a driver's
        message may quote the connection string it was given)."""
        if self.url is None:
            return text
        text = _PASSWORD_SETTING.sub(f"password={MASK}", text.replace(self.url, self.masked()))
        secret = self.password
        if secret:
            for form in {secret, quote(secret, safe="")}:
                text = text.replace(f":{form}@", f":{MASK}@")
                if len(form) >= _BARE_SECRET:  # a short one would take ordinary words with it
                    text = text.replace(form, MASK)
        return text


def _check_url(text: str) -> None:
    """Raise LocationError for a URL that libpq would refuse, or that names no database."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise LocationError(f"the port is not a number from 1 to 65535 (expected {_SHAPE})") from None
    if port is not None and not 0 < port < 65536:
        raise LocationError(f"the port is not a number from 1 to 65535 (expected {_SHAPE})")
    if parts.fragment:
        raise LocationError(f"a database URL has no '#' part (expected {_SHAPE})")
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise LocationError(f"the URL names no database (expected {_SHAPE})")
    if "/" in name:
        raise LocationError(f"the database name cannot hold '/' (expected {_SHAPE})")
    for key in dict(parse_qsl(parts.query, keep_blank_values=True)):
        if key not in URL_PARAMETERS:
            known = ", ".join(sorted(URL_PARAMETERS))
            raise LocationError(f"unknown URL parameter {key!r} (known: {known})")
