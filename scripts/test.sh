#!/usr/bin/env bash
# The whole check a change must pass: install, lint, types, import layers, every test.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -k cursor).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh all,dev
scripts/services.sh

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> mypy (strict)"
.venv/bin/mypy services operator tests $(ls bench/*.py 2>/dev/null || true)
echo "==> import layers"
.venv/bin/lint-imports
echo "==> hadolint"
.venv/bin/hadolint Dockerfile

scripts/web.sh
# The k8s tests' control plane is built before pytest, so its long first build shows progress.
if command -v go >/dev/null || [ "${CI:-}" = true ]; then
    echo "==> control plane binaries (scripts/kube.sh build)"
    scripts/kube.sh build >/dev/null
fi
echo "==> pytest"
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$status"
