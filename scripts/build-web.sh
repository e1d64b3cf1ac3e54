#!/usr/bin/env bash
# Build the web UI and copy it into the `minichat` package, so that `minichat up` serves it on
# machines with only Python. Run after changing web/, and commit services/cli/minichat_cli/web.
set -euo pipefail
cd "$(dirname "$0")/.."

(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build -- --logLevel warn)
target=services/cli/minichat_cli/web
rm -rf "$target"
mkdir -p "$target"
# Source maps stay out of the package: they are for developers, and five times the size.
(cd web/dist && find . -type f ! -name '*.map' -exec cp --parents {} "../../$target/" \;)
echo "==> web UI bundled into $target ($(du -sh "$target" | cut -f1))"
