"""How Retrace is deployed and run: compose.yaml, the Dockerfile, the README, CI.

No Docker engine is needed: compose.yaml is checked against the Compose
specification's JSON schema (check-jsonschema ships it), and the API service's
``RETRACE_*`` environment against ``api.settings.Settings``. The README's
settings table and test command are checked against the code and CI.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from pydantic import ValidationError

from api.cli import app as cli_app
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
NEEDED_IN_PRODUCTION = {
    "database_url",
    "redis_url",
    "public_base_url",
    "log_key_file",
    "bootstrap_admin_key",
}
# Values given to ${VAR...} references, as an operator's shell would.
SHELL = {
    "RETRACE_BOOTSTRAP_ADMIN_KEY": "rtr_compose_test_key_0123456789abcdef",
    "RETRACE_PUBLIC_BASE_URL": "https://retrace.example.org",
}
_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(line.split("=", 1) for line in env)
    return {str(k): str(v) for k, v in env.items()}


def _substitute(value: str, shell: dict[str, str]) -> str:
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        given = shell.get(name)
        if op in {":-", "-"}:
            return given if given else arg
        if op in {":?", "?"} and not given:
            raise KeyError(f"{name} is required: {arg}")
        return given or ""

    return _REFERENCE.sub(one, value)


def unknown_settings(env: dict[str, str]) -> list[str]:
    """RETRACE_* variables that name no field of Settings."""
    fields = set(Settings.model_fields)
    return sorted(
        name
        for name in env
        if name.startswith("RETRACE_") and name.removeprefix("RETRACE_").lower() not in fields
    )


def missing_settings(env: dict[str, str]) -> list[str]:
    """Settings production needs that the environment does not set."""
    return sorted(f for f in NEEDED_IN_PRODUCTION if f"RETRACE_{f.upper()}" not in env)


def settings_from(env: dict[str, str], shell: dict[str, str]) -> Settings:
    values = {
        name.removeprefix("RETRACE_").lower(): _substitute(value, shell)
        for name, value in env.items()
        if name.startswith("RETRACE_")
    }
    # model_validate reads only these values: no process environment, no .env file.
    return Settings.model_validate(values)


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    assert CHECK_JSONSCHEMA.exists(), f"{CHECK_JSONSCHEMA} missing: pip install -e '.[test]'"
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _api_env() -> dict[str, str]:
    return _environment(_compose()["services"]["api"])


def test_compose_file_follows_the_compose_spec() -> None:
    result = _check_jsonschema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_spec_check_catches_a_bad_ports_value(tmp_path: Path) -> None:
    compose = _compose()
    compose["services"]["api"]["ports"] = "abc"
    bad = tmp_path / "compose.yaml"
    bad.write_text(yaml.safe_dump(compose))
    result = _check_jsonschema(bad)
    assert result.returncode == 1
    assert "ports" in result.stdout


def test_every_retrace_variable_is_a_setting() -> None:
    env = _api_env()
    assert unknown_settings(env) == []
    assert missing_settings(env) == []


def test_a_misspelled_setting_is_caught() -> None:
    env = _api_env()
    env["RETRACE_DATABSE_URL"] = env.pop("RETRACE_DATABASE_URL")
    assert unknown_settings(env) == ["RETRACE_DATABSE_URL"]
    assert missing_settings(env) == ["database_url"]


def test_compose_values_parse_as_settings() -> None:
    settings = settings_from(_api_env(), SHELL)
    assert settings.environment == "production"
    assert settings.database().startswith("postgresql://")
    assert settings.redis() == "redis://redis:6379/0"
    assert settings.public_base_url == SHELL["RETRACE_PUBLIC_BASE_URL"]
    assert settings.log_key_file == Path("/var/lib/retrace/log.key")


def test_a_bad_value_is_caught() -> None:
    env = _api_env()
    env["RETRACE_PUBLIC_BASE_URL"] = "retrace.example.org"
    with pytest.raises(ValidationError, match="public_base_url"):
        settings_from(env, SHELL)
    env = _api_env()
    with pytest.raises(ValidationError, match="placeholder"):
        settings_from(env, {**SHELL, "RETRACE_BOOTSTRAP_ADMIN_KEY": "changeme"})


def test_the_admin_key_must_come_from_the_shell() -> None:
    env = _api_env()
    assert env["RETRACE_BOOTSTRAP_ADMIN_KEY"].startswith("${RETRACE_BOOTSTRAP_ADMIN_KEY:?")
    with pytest.raises(KeyError, match="required"):
        settings_from(env, {})


def test_services_wait_for_healthy_dependencies() -> None:
    services = _compose()["services"]
    api = services["api"]
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert api["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert services["db"]["image"].startswith("postgres:15")
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["redis"]["image"].startswith("redis:7")
    # The owner's URL names the compose service and the user and database it creates;
    # the service runs as a role of its own on the same database.
    db_env = services["db"]["environment"]
    owner = api["environment"]["RETRACE_OWNER_DATABASE_URL"]
    assert owner == f"postgresql://{db_env['POSTGRES_USER']}@db:5432/{db_env['POSTGRES_DB']}"
    service = api["environment"]["RETRACE_DATABASE_URL"]
    assert service.endswith(f"@db:5432/{db_env['POSTGRES_DB']}")
    assert not service.startswith(f"postgresql://{db_env['POSTGRES_USER']}@")
    # The log key lives on a volume.
    key_dir = str(Path(api["environment"]["RETRACE_LOG_KEY_FILE"]).parent)
    assert any(v.endswith(f":{key_dir}") for v in api["volumes"])


def test_the_api_command_is_a_valid_cli_call() -> None:
    command = _compose()["services"]["api"]["command"]
    assert command[:2] == ["retrace", "serve"]
    serve = typer.main.get_command(cli_app).commands["serve"]  # type: ignore[attr-defined]
    context = serve.make_context("serve", list(command[2:]))
    assert context.params["host"] == "0.0.0.0"  # noqa: S104 - inside the container
    assert context.params["workers"] == 2


def test_dockerfile_runs_the_service_as_a_non_root_user() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert "FROM python:3.11-slim" in lines
    assert "EXPOSE 8000" in lines
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1] not in {"root", "0"}
    assert any(line.startswith("RUN pip install .") for line in lines)


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [f for f in Settings.model_fields if f"`RETRACE_{f.upper()}`" not in readme]
    assert missing == [], "add these settings to the README's table"


def test_readme_and_ci_run_the_same_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in readme
    assert "bash scripts/test.sh" in ci
    assert "pytest" not in ci, "CI runs the tests only through scripts/test.sh"
