"""Service settings, read once from the environment (prefix ``RETRACE_``).

Owns every knob an operator sets: where the database and Redis are, the
public base URL that labels encode, the log signing key file, body limits
and reporting deadlines. The ledger never sees this object; the app hands
plain values down.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    redis_url: SecretStr | None = Field(
        None, description="redis://host:6379/0; optional, speeds up and streams new entries"
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000", description="the base URL QR labels encode (<base>/p/<id>)"
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
        90, ge=1, description="a retired item should be collected within this many days"
    )
    process_deadline_days: int = Field(
        365, ge=1, description="a collected item should be recycled or passed on within this"
    )
    checkpoint_interval: float = Field(
        5.0, ge=0.1, le=3600, description="seconds between automatic checkpoints (if the log grew)"
    )
    checkpoint_every: int = Field(
        1000, ge=1, description="also publish a checkpoint once this many entries are uncovered"
    )
    db_pool_size: int = Field(
        10,
        ge=1,
        description="database connections kept per process (as many again may open at a peak)",
    )

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

    def database(self) -> str:
        return self.database_url.get_secret_value()

    def redis(self) -> str | None:
        return None if self.redis_url is None else self.redis_url.get_secret_value()


@lru_cache
def get_settings() -> Settings:
    """The process's settings (cached; tests build their own ``Settings``)."""
    return Settings()
