"""Service settings, read once from the environment (prefix ``RETRACE_``).

Owns every knob an operator sets: where the database and Redis are, the
public base URL that labels encode (by default the address ``retrace serve``
serves, ``served_base_url``), the log signing key file, body limits,
reporting deadlines and how the service logs (``api.logs``). The ledger never
sees this object; the app hands plain values down.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.lifecycle import Tolerances

DEFAULT_DATABASE_URL = "sqlite:///./data/retrace.db"
_PLACEHOLDERS = {"changeme", "change-me", "secret", "admin", "password", ""}


class Settings(BaseSettings):
    """Retrace's settings; each field is ``RETRACE_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="RETRACE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["local", "test", "production"] = Field(
        "local", description="local, test or production; production refuses placeholder secrets"
    )
    database_url: SecretStr = Field(
        SecretStr(DEFAULT_DATABASE_URL),
        description="SQLAlchemy URL: sqlite:///path or postgresql://user@host/db",
    )
    owner_database_url: SecretStr | None = Field(
        None,
        description="PostgreSQL: the tables' owner, for migrations; then RETRACE_DATABASE_URL "
        "names the service's own role, created and granted only what the service needs",
    )
    redis_url: SecretStr | None = Field(
        None, description="redis://host:6379/0; optional, speeds up and streams new entries"
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="the base URL QR labels encode (<base>/p/<id>); unset, `retrace serve` "
        "sets it to the address it serves",
    )
    log_key_file: Path = Field(
        Path("./data/retrace-log.key"), description="Ed25519 PEM key that signs checkpoints"
    )
    log_name: str = Field(
        "retrace.local/log", description="the log's origin line and checkpoint key name"
    )
    bootstrap_admin_key: SecretStr | None = Field(
        None, description="on first start, create the admin org with this API key"
    )
    max_body_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="largest request body accepted (413 beyond)"
    )
    max_bulk_lines: int = Field(50_000, ge=1, description="most items in one bulk request")
    collect_deadline_days: int = Field(
        90,
        ge=1,
        description="working days a recycler has to collect a retired item transferred to it",
    )
    process_deadline_days: int = Field(
        365, ge=1, description="working days to process (or pass on) an item after collecting it"
    )
    report_deadline_days: int = Field(
        15, ge=1, description="an event should be recorded within this many working days"
    )
    mass_tolerance: Decimal = Field(
        Decimal(2),
        ge=0,
        le=100,
        description="percent by which a recycling input may exceed the item's collected "
        "(else registered) mass",
    )
    checkpoint_interval: float = Field(
        5.0, ge=0.1, le=3600, description="seconds between automatic checkpoints (if the log grew)"
    )
    report_refresh_interval: float = Field(
        5.0,
        ge=0.1,
        le=3600,
        description="seconds between refreshes of the report aggregates (a report "
        "request also folds in whatever the last refresh left)",
    )
    checkpoint_every: int = Field(
        1000, ge=1, description="also publish a checkpoint once this many entries are uncovered"
    )
    db_pool_size: int = Field(
        10,
        ge=1,
        description="database connections kept per process (as many again may open at a peak)",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="the least severe log events written (to stderr)"
    )
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="JSON lines, readable lines, or auto: readable on a terminal"
    )

    header_timeout: float = Field(
        10.0, gt=0, description="seconds a client has to send a request's headers"
    )
    body_timeout: float = Field(
        60.0, gt=0, description="seconds a client has to send a request's whole body (408 after)"
    )
    rate_limit: str = Field(
        "2000/second;60000/minute",
        description="requests per API key and per client address (the limits library's "
        "notation); lets a busy integration through and stops a flood",
    )
    rate_limit_admin: str | None = Field(None, description="admin keys' own rate limit")
    rate_limit_oem: str | None = Field(None, description="OEM keys' own rate limit")
    rate_limit_operator: str | None = Field(None, description="operator keys' own rate limit")
    rate_limit_recycler: str | None = Field(None, description="recycler keys' own rate limit")
    rate_limit_regulator: str | None = Field(None, description="regulator keys' own rate limit")

    @field_validator(
        "rate_limit",
        "rate_limit_admin",
        "rate_limit_oem",
        "rate_limit_operator",
        "rate_limit_recycler",
        "rate_limit_regulator",
    )
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is not None and not parse_many(value):  # ValueError names what is wrong
            raise ValueError(f"no rate limit in {value!r}")
        return value

    def role_rate_limits(self) -> dict[str, str]:
        """Each role's own limit, where one is set (``RETRACE_RATE_LIMIT_<ROLE>``)."""
        roles = ("admin", "oem", "operator", "recycler", "regulator")
        found = {role: getattr(self, f"rate_limit_{role}") for role in roles}
        return {role: limit for role, limit in found.items() if limit is not None}

    @field_validator("mass_tolerance", mode="before")
    @classmethod
    def _percent(cls, value: object) -> object:
        # "2%" and "2" both mean two percent; a float would not be exact.
        if isinstance(value, str):
            return value.strip().removesuffix("%").strip()
        if isinstance(value, float):
            return str(value)
        return value

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("public_base_url must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> Settings:
        if self.environment == "production" and self.bootstrap_admin_key is not None:
            key = self.bootstrap_admin_key.get_secret_value()
            if key.lower() in _PLACEHOLDERS or len(key) < 24:
                raise ValueError(
                    "RETRACE_BOOTSTRAP_ADMIN_KEY is a placeholder or shorter than 24 characters"
                )
        return self

    @property
    def public_base_url_is_set(self) -> bool:
        """Whether the operator chose the public base URL (environment, ``.env`` or
        argument) rather than leaving it to follow the served address."""
        return "public_base_url" in self.model_fields_set

    def database(self) -> str:
        return self.database_url.get_secret_value()

    def owner_database(self) -> str | None:
        return (
            None if self.owner_database_url is None else self.owner_database_url.get_secret_value()
        )

    def redis(self) -> str | None:
        return None if self.redis_url is None else self.redis_url.get_secret_value()

    def tolerances(self) -> Tolerances:
        """What the ledger's plausibility rules allow, as the ledger takes it."""
        return Tolerances(mass=self.mass_tolerance / 100)


def served_base_url(host: str, port: int) -> str:
    """``http://host:port``, the base URL of a server listening there (IPv6 in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@lru_cache
def get_settings() -> Settings:
    """The process's settings (cached; tests build their own ``Settings``)."""
    return Settings()
