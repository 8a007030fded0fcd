"""Settings: one frozen, typed object, loaded once at start-up from the environment.

Nothing else in Trioxide reads os.environ. Every variable is declared once in VARIABLES with its
default and reason, which `trioxide --help` lists. A bad value raises ConfigError naming the
variable and the accepted range, before anything is started.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import urlsplit

from core.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

T = TypeVar("T")


class Role(enum.StrEnum):
    """What one process serves. `trioxide serve` runs every role unless told otherwise."""

    API = "api"
    GATEWAY = "gateway"
    VOICE = "voice"
    WORKER = "worker"


class Registration(enum.StrEnum):
    OPEN = "open"  # anyone can register
    INVITE = "invite"  # registering needs a code from `trioxide registration-code create`


class LogFormat(enum.StrEnum):
    AUTO = "auto"  # JSON lines when stdout is not a terminal, readable lines when it is
    JSON = "json"
    TEXT = "text"


E = TypeVar("E", bound=enum.StrEnum)


@dataclass(frozen=True, slots=True)
class Address:
    """A TCP or UDP listener address. Port 0 asks the OS for a free port (tests use it)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class S3Location:
    """An S3-compatible bucket for attachments and the credentials that may write to it."""

    endpoint: str  # scheme://host[:port], no trailing slash
    bucket: str
    region: str
    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Settings:
    api_addr: Address
    gateway_addr: Address
    voice_addr: Address
    database_url: str | None
    redis_url: str | None
    data_dir: Path
    worker_id: int
    process_id: int
    roles: frozenset[Role]
    db_pool_size: int
    db_timeout_s: float
    shutdown_grace_s: float
    log_level: str
    log_format: LogFormat
    jwt_keys: tuple[tuple[str, bytes], ...] = field(repr=False)
    registration: Registration
    refresh_reuse_grace_s: float
    rate_limits: bool
    max_upload_bytes: int
    public_url: str
    s3: S3Location | None  # None: attachments under data_dir/objects
    public_gateway_url: str | None  # None: derived from the gateway's listener
    allowed_origins: frozenset[str]  # browser origins the gateway accepts
    privileged_intents: bool  # bots may ask for GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT
    bus_outage_close_s: float = 30.0  # sessions held up by a Redis outage this long close 4000
    # The voice gateway's own certificate and key (PEM); None: one generated in the data dir.
    voice_tls_cert: Path | None = None
    voice_tls_key: Path | None = None
    public_voice_endpoint: Address | None = None  # None: the voice listener's own address


# Parsers: raw text in, value out; ValueError with the accepted range when the text is wrong.


def _address(raw: str) -> Address:
    host, sep, port_text = raw.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{raw!r} is not host:port (e.g. 127.0.0.1:8080)")
    port = _int_in(0, 65535)(port_text) if port_text.isdigit() else None
    if port is None:
        raise ValueError(f"{port_text!r} is not a port; expected host:port with port 0 to 65535")
    return Address(host.removeprefix("[").removesuffix("]"), port)


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"{value} is out of range; expected {low} to {high}")
        return value

    return parse


def _seconds_in(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not a number of seconds from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"{value} is out of range; expected {low} to {high} seconds")
        return value

    return parse


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.lower() not in choices:
            raise ValueError(f"{raw!r} is not one of {', '.join(choices)}")
        return raw.lower()

    return parse


def _member_of(kind: type[E]) -> Callable[[str], E]:
    choose = _one_of(tuple(member.value for member in kind))
    return lambda raw: kind(choose(raw))


def parse_roles(raw: str) -> frozenset[Role]:
    """`api,gateway` → the roles; the accepted names are Role's values."""
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    accepted = ", ".join(role.value for role in Role)
    if not names:
        raise ValueError(f"no role given; expected a comma-separated list of {accepted}")
    unknown = [name for name in names if name not in Role.__members__.values()]
    if unknown:
        raise ValueError(
            f"unknown role {unknown[0]!r}; expected a comma-separated list of {accepted}"
        )
    return frozenset(Role(name) for name in names)


def _url(raw: str) -> str:
    return raw


def _redis_url(raw: str) -> str:
    from core.store.redis import Redis  # (the client's own reading of it: no I/O)

    Redis(raw)
    return raw


def _endpoint(raw: str) -> str:
    scheme, _, rest = raw.partition("://")
    if scheme not in ("http", "https") or not rest.rstrip("/") or "/" in rest.rstrip("/"):
        raise ValueError("expected http(s)://host[:port], with no path")
    return raw.rstrip("/")


def _bucket(raw: str) -> str:
    # S3's bucket naming rules: 3 to 63 lowercase letters, digits, dots and hyphens.
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789.-")
    if not 3 <= len(raw) <= 63 or not set(raw) <= allowed or not raw[0].isalnum():
        raise ValueError("expected 3 to 63 lowercase letters, digits, dots or hyphens")
    return raw


def _text(raw: str) -> str:
    return raw


def _public_endpoint(raw: str) -> Address:
    # Sent to clients as VOICE_SERVER_UPDATE's `endpoint`: both libraries put "wss://" in
    # front of it themselves, so it carries no scheme, and a port they can reach (not 0).
    if "://" in raw:
        raise ValueError(
            f"{raw!r} has a scheme; expected host:port alone (e.g. voice.example:8082)"
        )
    address = _address(raw)
    if address.port == 0:
        raise ValueError("port 0 is not reachable; expected host:port with port 1 to 65535")
    return address


# HS256 wants a key at least as long as its hash: 32 bytes.
_MIN_JWT_SECRET_BYTES = 32


def parse_jwt_keys(raw: str) -> tuple[tuple[str, bytes], ...]:
    """`kid:secret,kid:secret` → ((kid, secret), …). The first key signs; all verify."""
    keys = []
    for entry in raw.split(","):
        kid, sep, secret = entry.strip().partition(":")
        if not sep or not kid or not secret:
            raise ValueError("expected kid:secret pairs separated by commas")
        if len(secret.encode()) < _MIN_JWT_SECRET_BYTES:
            raise ValueError(f"the secret of key {kid!r} is under {_MIN_JWT_SECRET_BYTES} bytes")
        keys.append((kid, secret.encode()))
    if len({kid for kid, _ in keys}) != len(keys):
        raise ValueError("two keys share one kid")
    return tuple(keys)


def _switch(raw: str) -> bool:
    return _one_of(("on", "off"))(raw) == "on"


@dataclass(frozen=True, slots=True)
class Variable(Generic[T]):
    """One environment variable: its name, default (None: unset), meaning and parser."""

    name: str
    default: str | None
    help: str
    parse: Callable[[str], T]

    def read(self, environ: Mapping[str, str]) -> T | None:
        raw = environ.get(self.name, self.default)
        if raw is None or raw == "":
            return None
        try:
            return self.parse(raw)
        except ValueError as error:
            raise ConfigError(self.name, str(error)) from None

    def require(self, environ: Mapping[str, str]) -> T:
        value = self.read(environ)
        if value is None:
            raise ConfigError(self.name, "must not be empty")
        return value


API_ADDR = Variable(
    "TRIOXIDE_API_ADDR", "127.0.0.1:8080", "REST API listener (host:port)", _address
)
GATEWAY_ADDR = Variable(
    "TRIOXIDE_GATEWAY_ADDR", "127.0.0.1:8081", "gateway WebSocket listener (host:port)", _address
)
VOICE_ADDR = Variable(
    "TRIOXIDE_VOICE_ADDR",
    "127.0.0.1:8082",
    "voice listener (host:port): the voice gateway over TLS on TCP, voice packets on UDP",
    _address,
)
DATABASE_URL = Variable(
    "DATABASE_URL",
    None,
    "PostgreSQL >= 14 to use; unset: an embedded PostgreSQL under TRIOXIDE_DATA_DIR",
    _url,
)
REDIS_URL = Variable(
    "REDIS_URL",
    None,
    "Redis shared by several processes; unset: everything in-process",
    _redis_url,
)
DATA_DIR = Variable(
    "TRIOXIDE_DATA_DIR", "./.data", "local state: the embedded PostgreSQL and uploads", Path
)
WORKER_ID = Variable(
    "TRIOXIDE_WORKER_ID",
    "0",
    "snowflake worker id (0 to 31); each process needs its own worker/process pair",
    _int_in(0, 31),
)
PROCESS_ID = Variable("TRIOXIDE_PROCESS_ID", "0", "snowflake process id (0 to 31)", _int_in(0, 31))
ROLES = Variable(
    "TRIOXIDE_ROLES",
    ",".join(role.value for role in Role),
    "roles this process serves; `serve --roles` overrides",
    parse_roles,
)
DB_POOL_SIZE = Variable(
    "TRIOXIDE_DB_POOL_SIZE",
    "8",
    "PostgreSQL connections per process (1 to 100); measured best at 8 on 2 cores",
    _int_in(1, 100),
)
DB_TIMEOUT_S = Variable(
    "TRIOXIDE_DB_TIMEOUT_S",
    "5",
    "longest wait for a pooled connection before a request fails (0.1 to 60)",
    _seconds_in(0.1, 60),
)
SHUTDOWN_GRACE_S = Variable(
    "TRIOXIDE_SHUTDOWN_GRACE_S",
    "10",
    "time in-flight work gets to finish after SIGTERM or Ctrl-C (0 to 300)",
    _seconds_in(0, 300),
)
LOG_LEVEL = Variable(
    "TRIOXIDE_LOG_LEVEL",
    "info",
    "debug, info, warning or error",
    _one_of(("debug", "info", "warning", "error")),
)
LOG_FORMAT = Variable(
    "TRIOXIDE_LOG_FORMAT",
    "auto",
    "auto (JSON unless stdout is a terminal), json or text",
    _member_of(LogFormat),
)

JWT_KEYS = Variable(
    "TRIOXIDE_JWT_KEYS",
    None,
    "access-token keys kid:secret,… (first signs, all verify); unset: one kept in the data dir",
    parse_jwt_keys,
)
REGISTRATION = Variable(
    "TRIOXIDE_REGISTRATION",
    "open",
    "open, or invite (needs a code from `trioxide registration-code create`)",
    _member_of(Registration),
)
REFRESH_REUSE_GRACE_S = Variable(
    "TRIOXIDE_REFRESH_REUSE_GRACE_S",
    "10",
    "a refresh token re-sent this soon after use gets the same new pair (0 to 60)",
    _seconds_in(0, 60),
)
MAX_UPLOAD_BYTES = Variable(
    "TRIOXIDE_MAX_UPLOAD_BYTES",
    str(25 * 1024 * 1024),
    "largest upload, all of one message's files together (1 KiB to 500 MiB)",
    _int_in(1024, 500 * 1024 * 1024),
)
PUBLIC_URL = Variable(
    "TRIOXIDE_PUBLIC_URL",
    None,
    "the API's address as clients reach it, for attachment links; unset: http://TRIOXIDE_API_ADDR",
    _url,
)
S3_ENDPOINT = Variable(
    "TRIOXIDE_S3_ENDPOINT",
    None,
    "an S3-compatible store for attachments, http(s)://host[:port]; unset: files in the data dir",
    _endpoint,
)
S3_BUCKET = Variable("TRIOXIDE_S3_BUCKET", "trioxide", "the attachments' bucket", _bucket)
S3_REGION = Variable("TRIOXIDE_S3_REGION", "us-east-1", "the bucket's region", _text)
S3_ACCESS_KEY_ID = Variable(
    "TRIOXIDE_S3_ACCESS_KEY_ID", None, "S3 access key id (with TRIOXIDE_S3_ENDPOINT)", _text
)
S3_SECRET_ACCESS_KEY = Variable(
    "TRIOXIDE_S3_SECRET_ACCESS_KEY", None, "S3 secret key (with TRIOXIDE_S3_ENDPOINT)", _text
)
PUBLIC_GATEWAY_URL = Variable(
    "TRIOXIDE_PUBLIC_GATEWAY_URL",
    None,
    "the gateway's address as clients reach it; unset: ws://TRIOXIDE_GATEWAY_ADDR",
    _url,
)
ALLOWED_ORIGINS = Variable(
    "TRIOXIDE_ALLOWED_ORIGINS",
    None,
    "browser origins allowed to open the gateway, comma-separated; bots send none",
    lambda raw: frozenset(o.strip().rstrip("/") for o in raw.split(",") if o.strip()),
)
PRIVILEGED_INTENTS = Variable(
    "TRIOXIDE_PRIVILEGED_INTENTS",
    "on",
    "on: every bot may ask for the privileged intents; off: only as its application's flags allow",
    _switch,
)
BUS_OUTAGE_CLOSE_S = Variable(
    "TRIOXIDE_BUS_OUTAGE_CLOSE_S",
    "30",
    "with REDIS_URL: gateway sessions whose events a Redis outage holds up this long are closed"
    " with 4000 (they resume); 1 to 100, inside the 120 s resume window",
    _seconds_in(1, 100),
)
VOICE_TLS_CERT = Variable(
    "TRIOXIDE_VOICE_TLS_CERT",
    None,
    "the voice gateway's certificate chain (PEM file), with TRIOXIDE_VOICE_TLS_KEY; unset: a"
    " self-signed one generated once in the data dir (its path is printed at start-up)",
    Path,
)
VOICE_TLS_KEY = Variable(
    "TRIOXIDE_VOICE_TLS_KEY",
    None,
    "the private key (PEM file) of TRIOXIDE_VOICE_TLS_CERT",
    Path,
)
PUBLIC_VOICE_ENDPOINT = Variable(
    "TRIOXIDE_PUBLIC_VOICE_ENDPOINT",
    None,
    "the voice listener as clients reach it, host:port with no scheme (TCP and UDP on that"
    " port); unset: TRIOXIDE_VOICE_ADDR",
    _public_endpoint,
)
RATE_LIMITS = Variable("TRIOXIDE_RATE_LIMITS", "on", "on, or off for load benchmarks", _switch)

# Any: each variable parses to its own type; the table is read only for names, defaults, help.
VARIABLES: tuple[Variable[Any], ...] = (
    API_ADDR,
    GATEWAY_ADDR,
    VOICE_ADDR,
    DATABASE_URL,
    REDIS_URL,
    DATA_DIR,
    WORKER_ID,
    PROCESS_ID,
    ROLES,
    DB_POOL_SIZE,
    DB_TIMEOUT_S,
    SHUTDOWN_GRACE_S,
    LOG_LEVEL,
    LOG_FORMAT,
    JWT_KEYS,
    REGISTRATION,
    REFRESH_REUSE_GRACE_S,
    RATE_LIMITS,
    MAX_UPLOAD_BYTES,
    PUBLIC_URL,
    S3_ENDPOINT,
    S3_BUCKET,
    S3_REGION,
    S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY,
    PUBLIC_GATEWAY_URL,
    ALLOWED_ORIGINS,
    PRIVILEGED_INTENTS,
    BUS_OUTAGE_CLOSE_S,
    VOICE_TLS_CERT,
    VOICE_TLS_KEY,
    PUBLIC_VOICE_ENDPOINT,
)


def _s3_location(environ: Mapping[str, str]) -> S3Location | None:
    endpoint = S3_ENDPOINT.read(environ)
    if endpoint is None:
        return None
    return S3Location(
        endpoint=endpoint,
        bucket=S3_BUCKET.require(environ),
        region=S3_REGION.require(environ),
        access_key_id=S3_ACCESS_KEY_ID.require(environ),
        secret_access_key=S3_SECRET_ACCESS_KEY.require(environ),
    )


def _voice_tls(environ: Mapping[str, str]) -> tuple[Path | None, Path | None]:
    """The certificate and key files: both, or neither (a generated certificate)."""
    cert, key = VOICE_TLS_CERT.read(environ), VOICE_TLS_KEY.read(environ)
    if cert is not None and key is None:
        raise ConfigError(VOICE_TLS_KEY.name, "must be set with TRIOXIDE_VOICE_TLS_CERT")
    if key is not None and cert is None:
        raise ConfigError(VOICE_TLS_CERT.name, "must be set with TRIOXIDE_VOICE_TLS_KEY")
    return cert, key


def browser_origins(settings: Settings) -> frozenset[str]:
    """The browser origins that may open the gateway: TRIOXIDE_ALLOWED_ORIGINS, and the web
    client's own, served by the API at the public URL (and, for a server on loopback, at the
    other names of loopback a person may type). Any other page is refused, so a hostile site
    cannot open a gateway session with a visitor's credentials."""
    public = urlsplit(settings.public_url)
    found = set(settings.allowed_origins) | {f"{public.scheme}://{public.netloc}"}
    if settings.api_addr.host in ("127.0.0.1", "localhost", "::1"):
        port = settings.api_addr.port
        found |= {f"http://{host}:{port}" for host in ("127.0.0.1", "localhost", "[::1]")}
    return frozenset(found)


def load_settings(environ: Mapping[str, str], *, roles: str | None = None) -> Settings:
    """Settings from `environ`; `roles` (the `--roles` option) overrides TRIOXIDE_ROLES.

    Raises ConfigError naming the first variable that is wrong.
    """
    if roles is not None:
        try:
            chosen = parse_roles(roles)
        except ValueError as error:
            raise ConfigError("--roles", str(error)) from None
    else:
        chosen = ROLES.require(environ)
    api_addr = API_ADDR.require(environ)
    voice_tls_cert, voice_tls_key = _voice_tls(environ)
    return Settings(
        api_addr=api_addr,
        gateway_addr=GATEWAY_ADDR.require(environ),
        voice_addr=VOICE_ADDR.require(environ),
        database_url=DATABASE_URL.read(environ),
        redis_url=REDIS_URL.read(environ),
        data_dir=DATA_DIR.require(environ),
        worker_id=WORKER_ID.require(environ),
        process_id=PROCESS_ID.require(environ),
        roles=chosen,
        db_pool_size=DB_POOL_SIZE.require(environ),
        db_timeout_s=DB_TIMEOUT_S.require(environ),
        shutdown_grace_s=SHUTDOWN_GRACE_S.require(environ),
        log_level=LOG_LEVEL.require(environ),
        log_format=LOG_FORMAT.require(environ),
        jwt_keys=JWT_KEYS.read(environ) or (),
        registration=REGISTRATION.require(environ),
        refresh_reuse_grace_s=REFRESH_REUSE_GRACE_S.require(environ),
        rate_limits=RATE_LIMITS.require(environ),
        max_upload_bytes=MAX_UPLOAD_BYTES.require(environ),
        public_url=(PUBLIC_URL.read(environ) or f"http://{api_addr}").rstrip("/"),
        s3=_s3_location(environ),
        public_gateway_url=(PUBLIC_GATEWAY_URL.read(environ) or "").rstrip("/") or None,
        allowed_origins=ALLOWED_ORIGINS.read(environ) or frozenset(),
        privileged_intents=PRIVILEGED_INTENTS.require(environ),
        bus_outage_close_s=BUS_OUTAGE_CLOSE_S.require(environ),
        voice_tls_cert=voice_tls_cert,
        voice_tls_key=voice_tls_key,
        public_voice_endpoint=PUBLIC_VOICE_ENDPOINT.read(environ),
    )
