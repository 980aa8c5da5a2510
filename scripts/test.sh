#!/usr/bin/env bash
# The whole check: install test needs (into .venv), lint, type-check, run every test (integration included).
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not integration" for a quick run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
# The checkout's venv (made by setup.sh): python3, cascade, ruff, mypy and pytest are its own, and
# tests that start `sys.executable` or `cascade` get the same environment.
# shellcheck disable=SC1091
source .venv/bin/activate
ruff check cascade tests benchmarks examples docs
ruff format --check cascade tests benchmarks examples docs
mypy
# pytest exits 5 when it collected nothing: that is a failure here too (set -e).
python3 -m pytest --cov=cascade --cov-report=term:skip-covered "$@"
