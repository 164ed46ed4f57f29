#!/usr/bin/env bash
# Install Retrace with its test tools into .venv, check formatting, lint and types,
# and run every test.
#
# The one test command: the README shows it and .ci/run calls it. Tests that need
# PostgreSQL (TEST_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres)
# or Redis (TEST_REDIS_URL, default redis://127.0.0.1:6379/15) skip without them,
# except with CI set, where they fail. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

# Formatting, lint and types first (settings in pyproject.toml); all three run, and any
# failure stops the script before pytest.
checks=0
.venv/bin/ruff format --check . || checks=1
.venv/bin/ruff check . || checks=1
.venv/bin/mypy || checks=1
if [ "$checks" -ne 0 ]; then
  echo "ruff format, ruff check or mypy failed (see above): not running pytest" >&2
  exit 1
fi

status=0
.venv/bin/python -m pytest -n 2 -p no:cacheprovider "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
