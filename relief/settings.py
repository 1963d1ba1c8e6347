"""Settings from the environment (prefix RELIEF_), built once in cli.main() and passed down."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# A tile URL template: scheme, a host of plain labels ({s} allowed in the first), an optional port, then a path
# and query without spaces or quotes.
_TILE_URL = re.compile(
    r"^(?P<scheme>https?)://(?P<host>(?:[A-Za-z0-9-]*\{s\}[A-Za-z0-9-]*|[A-Za-z0-9-]+)(?:\.[A-Za-z0-9-]+)*)"
    r"(?P<port>:\d{1,5})?/[^\s'\"<>\\;,]*$"
)

# Publicly known, so only good for a laptop: production refuses to start with it.
DEFAULT_SECRET_KEY = "relief-development-secret-change-me"


class Settings(BaseSettings):
    """Every setting Relief reads; the README's table lists the same names."""

    model_config = SettingsConfigDict(env_prefix="RELIEF_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL; unset starts an embedded server under the data folder"
    )
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    timezone: str = "Asia/Shanghai"
    ledger_key: SecretStr | None = Field(
        default=None,
        description="Ed25519 key that signs each incident's ledger head: base64 of its 32-byte seed "
        "(`relief ledger-key` prints a new one) or PEM; required in production; unset in development: "
        "derived from RELIEF_SECRET_KEY",
    )
    worker_in_process: bool = True
    webhook_allow_private: bool = Field(
        default=False,
        description="Let webhooks go to loopback and private addresses (a receiver on this machine or the "
        "intranet); unset: true in development (the tour and the demo deliver offline), false in production",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    db_pool_min: int = Field(default=0, ge=0)
    db_pool_max: int = Field(default=10, ge=2, description="A situation report holds two connections at once")
    db_connect_timeout: float = Field(default=5.0, gt=0)
    shutdown_timeout: float = Field(default=30.0, ge=0)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token a Prometheus scraper sends to read /metrics; unset: /metrics is open in "
        "development and not served in production",
    )
    body_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a request body may take to arrive; then 408 and the connection closes"
    )
    public_max_age: int = Field(default=1, ge=0, le=1, description="Seconds the public answers may be kept: "
                                "their Cache-Control max-age, and the cache's lifetime while not listening")
    pledge_coalesce: bool = Field(default=True, description="Apply concurrent pledges on one call in one "
                                  "transaction (relief/pledge_batches.py); false: one transaction per pledge")
    imports_in_process: bool = Field(default=True, description="Run queued imports in this process (every replica "
                                     "may; each import is taken up by one)")
    import_lease_seconds: float = Field(default=120.0, gt=0, description="An import whose runner has not "
                                        "finished a batch for this long is taken over by another (it died)")
    import_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024,
                                  description="The largest spreadsheet an import takes (bytes); past it, 413")
    import_body_timeout: float = Field(default=600.0, gt=0,
                                       description="Seconds an import's upload may take to arrive; then 408")
    idempotency_retention_hours: int = Field(default=24, ge=24, description="Idempotency keys live at least 24 h")
    maintenance_interval: float = Field(default=600.0, gt=0, description="Seconds between purges of old keys")
    deployment_overdue_grace: float = Field(
        default=900.0, ge=0, le=86_400,
        description="Seconds a member may stay on site past expected_back_at before deployment.overdue is raised",
    )
    webhook_timeout: float = Field(default=15.0, gt=0, description="Seconds one delivery attempt may take in all")
    webhook_connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to connect to a receiver")
    webhook_concurrency: int = Field(default=256, ge=1, description="Deliveries in flight per worker")
    webhook_destination_concurrency: int = Field(
        default=16, ge=1, description="Deliveries in flight per worker to one host:port"
    )
    webhook_disable_after_hours: float = Field(
        default=120.0, gt=0, description="A subscription whose deliveries keep failing this long is disabled"
    )
    webhook_claim_seconds: float = Field(
        default=60.0, gt=0, description="How long a worker's claim on a delivery lasts before another may take it"
    )
    webhook_poll_interval: float = Field(
        default=5.0, gt=0, description="Seconds between worker polls when no LISTEN/NOTIFY wake-up comes"
    )
    webhook_breaker_failures: int = Field(
        default=10, ge=1,
        description="Failures in a row (no answer, a timeout, 429, 502, 503, 504) after which a destination "
        "(host:port) gets no attempts but one probe per interval until it answers",
    )
    webhook_breaker_probe_seconds: float = Field(
        default=60.0, gt=0, description="Seconds between probes of a destination whose breaker is open"
    )
    webhook_retention_days: int = Field(
        default=30, ge=1, description="Delivered and failed deliveries (and their attempts) are kept this long"
    )
    cap_sender: str = Field(
        default="relief@localhost",
        pattern=r"^[^\s,<&]+$",
        description="The CAP <sender> of alerts: the bureau's address, no spaces, commas, < or &",
    )
    console_session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="How long a console sign-in lasts (a dispatcher's shift)"
    )
    rate_limit_per_second: float = Field(
        default=50.0, ge=0, description="Requests per second one API key may make, per process; 0 turns it off"
    )
    rate_limit_burst: int = Field(
        default=100, ge=1, description="Requests one API key may make at once before the per-second rate applies"
    )
    auth_failures_per_minute: int = Field(
        default=10, ge=0,
        description="Failed authentications (401) a minute per client address, per process; 0 turns it off",
    )
    trusted_proxy_hops: int = Field(
        default=0, ge=0,
        description="Reverse proxies in front that append to X-Forwarded-For, when their number is fixed; 0: "
        "every address RELIEF_TRUSTED_PROXIES lists is skipped from the right. Set alone (no RELIEF_TRUSTED_PROXIES) "
        "it is believed from any peer, for the client address only",
    )
    trusted_proxies: Annotated[list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode] = Field(
        default_factory=list,
        description="Addresses or CIDR blocks of the reverse proxies in front (10.0.0.5, 10.0.0.0/24, ::1), "
        "comma-separated: only from these peers are X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host "
        "believed (for per-address limits, logs, links, the cookie's Secure and the console's Origin check)",
    )
    public_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="The address people reach the service at (https://relief.example.gov.cn), for the links in "
        "email and feeds, the console's Origin check, and the cookie's Secure and HSTS (both only for https); "
        "unset: links and checks follow each request (through the trusted proxies), email http://RELIEF_HOST:RELIEF_PORT",
    )
    smtp_host: str | None = Field(default=None, description="SMTP server for email; unset: no email is sent")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_tls: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls (port 587), tls (implicit, port 465) or none (a local relay)"
    )
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = Field(default="Relief <relief@localhost>", description="The From of every email")
    smtp_timeout: float = Field(default=30.0, gt=0, description="Seconds one SMTP attempt may take in all")
    # The notification rules (GET /v1/notification-rules), each switched off by its setting.
    notify_alert_broadcast: bool = Field(default=True, description="Email an alert to the organizations it targets")
    notify_alert_escalated: bool = Field(default=True, description="Email an alert again to a team that did not "
                                         "acknowledge it in time")
    notify_task_assigned: bool = Field(default=True, description="Email a task to the team's lead")
    notify_pledge_reminded: bool = Field(default=True, description="Remind an organization of an accepted pledge "
                                         "not dispatched by its call's deadline")
    notify_pledge_escalated: bool = Field(default=True, description="Tell the bureau of a pledge still not "
                                          "dispatched after the reminder")
    notify_webhook_failing: bool = Field(default=True, description="Tell a subscription's owner it has been "
                                         "failing for an hour")
    notify_webhook_disabled: bool = Field(default=True, description="Tell a subscription's owner it was disabled")
    notify_deployment_overdue: bool = Field(default=True, description="Tell the bureau a member is overdue")
    notify_stock_low: bool = Field(default=True, description="Tell the bureau a stock fell below its minimum")
    alert_escalate_minutes: float = Field(
        default=15.0, gt=0, le=7 * 24 * 60,
        description="Minutes a targeted team has to acknowledge an alert before it is escalated (sent again)",
    )
    pledge_notice_minutes: float = Field(
        default=60.0, ge=0, le=7 * 24 * 60,
        description="Minutes after its call's deadline (and its reminder) an undispatched pledge is reported to "
        "the bureau",
    )
    webhook_failing_notice_hours: float = Field(
        default=1.0, gt=0, description="Hours of failing deliveries after which the owner is told (webhook.failing)"
    )
    demo: bool = Field(default=False, description="serve loads the Doksuri demo into a database with no incidents")
    map_tiles: str | None = Field(
        default=None,
        description="A tile server for the console's map, as a URL template (https://tiles.example/{z}/{x}/{y}.png; "
        "{s} in the host's first label for RELIEF_MAP_TILES_SUBDOMAINS; 天地图 with its tk= key, an intranet server "
        "none); the console and its CSP img-src allow that host only then. Unset: no request leaves the machine, "
        "the map draws outlines and markers on a plain background",
    )
    map_tiles_attribution: str = Field(default="", max_length=300,
                                       description="The tile server's attribution, shown on the map (plain text)")
    map_tiles_subdomains: str = Field(default="abc", pattern=r"^[A-Za-z0-9]{1,16}$",
                                      description="What {s} in RELIEF_MAP_TILES stands for, one character each")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: Any) -> Any:
        # From the environment a comma- or space-separated list; a host address in a block (10.0.0.5/24) is
        # taken as its block rather than refused.
        if isinstance(value, str):
            value = [part for part in value.replace(",", " ").split() if part]
        if isinstance(value, list | tuple):
            try:
                return [ipaddress.ip_network(str(v).strip().strip("[]"), strict=False) for v in value]
            except ValueError as exc:
                raise ValueError(f"not an IP address or CIDR block: {exc}") from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _private_webhooks_in_development(cls, data: Any) -> Any:
        # Unset, RELIEF_WEBHOOK_ALLOW_PRIVATE follows RELIEF_ENV: a laptop's receiver is on loopback; an
        # explicit value (true or false) always wins.
        if isinstance(data, dict) and data.get("webhook_allow_private") in (None, ""):
            data = {**data, "webhook_allow_private": data.get("env", "development") != "production"}
        return data

    @field_validator("ledger_key")
    @classmethod
    def _ledger_key_readable(cls, value: SecretStr | None) -> SecretStr | None:
        from relief.chain import parse_key  # cryptography, only when a key is set

        if value is not None:
            parse_key(value.get_secret_value())  # its ValueError names what is wrong, never the key
        return value

    @field_validator("map_tiles")
    @classmethod
    def _tile_template(cls, value: str | None) -> str | None:
        # The host goes into the CSP header: only plain host characters, so no value can add a directive.
        if value in (None, ""):
            return None
        match = _TILE_URL.match(value)
        bare = match is not None and "{s}" in match["host"] and "." not in match["host"]  # no *.domain to allow
        if match is None or bare or not all(part in value for part in ("{z}", "{x}", "{y}")):
            raise ValueError("RELIEF_MAP_TILES must be an http(s) URL template with {z}, {x} and {y} "
                             "(and {s} only in the host's first label)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _claims_outlast_attempts(self) -> Settings:
        # A claim that ran out while its attempt is still going would let a second worker send it too.
        # A job may also wait at its destination's gate for about one attempt before its own starts.
        if self.webhook_claim_seconds < 2 * self.webhook_timeout + 10:
            raise ValueError("RELIEF_WEBHOOK_CLAIM_SECONDS must be at least 2 × RELIEF_WEBHOOK_TIMEOUT + 10")
        return self

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        if self.env == "production":
            if self.secret_key.get_secret_value() == DEFAULT_SECRET_KEY:
                raise ValueError("RELIEF_SECRET_KEY must be set to a private value in production")
            if len(self.secret_key.get_secret_value()) < 32:
                raise ValueError("RELIEF_SECRET_KEY must be at least 32 characters in production")
            if self.ledger_key is None:
                raise ValueError("RELIEF_LEDGER_KEY must be set in production (`relief ledger-key` makes one)")
            if self.database_url is None:
                raise ValueError("RELIEF_DATABASE_URL must be set in production (no embedded database)")
        return self

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def base_url(self) -> str:
        """Where links in messages point: RELIEF_PUBLIC_URL, else this process's own address."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def map_tiles_source(self) -> str | None:
        """The tile server as a CSP source (scheme://host[:port], a {s} label as *), or None when unset."""
        if not self.map_tiles:
            return None
        match = _TILE_URL.match(self.map_tiles)
        if match is None:
            return None
        first, _, rest = match["host"].partition(".")
        host = f"*.{rest}" if "{s}" in first else match["host"]
        return f"{match['scheme']}://{host}{match['port'] or ''}"

    @property
    def email_on(self) -> bool:
        return bool(self.smtp_host)
