#!/usr/bin/env bash
# The whole check: install test needs, lint, type-check, run every test (integration included).
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not integration" for a quick run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
ruff check cascade tests benchmarks examples
ruff format --check cascade tests benchmarks examples
mypy
# pytest exits 5 when it collected nothing: that is a failure here too (set -e).
python3 -m pytest --cov=cascade --cov-report=term:skip-covered "$@"
