#!/usr/bin/env bash
# The whole check a change must pass: install, lint, types, import layers, every test.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -k cursor).
# The fast tier: when the paths given are all under tests/unit (options such as -k aside), no
# test needs a server, the web UI or the control plane, so none is started or built.
set -euo pipefail
cd "$(dirname "$0")/.."

fast=false
unit="$(realpath tests/unit)"
for arg in "$@"; do
    path="${arg%%::*}"
    if [[ "$arg" == -* || ! -e "$path" ]]; then
        continue # an option, or an option's value (-k cursor)
    fi
    case "$(realpath "$path")/" in
        "$unit"/*) fast=true ;;
        *)
            fast=false
            break
            ;;
    esac
done

scripts/bootstrap.sh all,dev
if [ "$fast" = false ]; then
    scripts/services.sh
fi

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> mypy (strict)"
.venv/bin/mypy services operator tests $(ls bench/*.py 2>/dev/null || true)
echo "==> import layers"
.venv/bin/lint-imports
echo "==> hadolint"
.venv/bin/hadolint Dockerfile

if [ "$fast" = true ]; then
    echo "==> fast tier (tests/unit only): no servers, web UI or control plane"
else
    scripts/web.sh
fi
# The k8s tests' control plane is built before pytest, so its long first build shows progress.
if [ "$fast" = false ] && { command -v go >/dev/null || [ "${CI:-}" = true ]; }; then
    echo "==> control plane binaries (scripts/kube.sh build)"
    scripts/kube.sh build >/dev/null
    echo "==> promtool (scripts/promtool.sh build)"
    scripts/promtool.sh build >/dev/null
fi
echo "==> pytest"
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$status"
