#!/usr/bin/env bash
# The web UI's part of the check: Debian's Chromium for the browser tests, then npm ci, the
# production build (web/dist, which the e2e test serves through the api) and the unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "==> installing Debian's chromium (for the browser tests)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
    else
        echo "scripts/web.sh: /usr/bin/chromium is missing; install it with:" >&2
        echo "    sudo apt-get update && sudo apt-get install -y chromium" >&2
        exit 1
    fi
fi

cd web
echo "==> web: npm ci"
npm ci --no-audit --no-fund --loglevel=error
echo "==> web: build"
npm run --silent build -- --logLevel warn
echo "==> web: unit tests"
npm test --silent
