#!/usr/bin/env bash
# From a fresh clone to a running MiniChat on http://localhost:8000, with nothing but Python
# 3.11+ and a C compiler: installs into .venv (llama.cpp compiles once), then `minichat up`
# (SQLite, in-process streams and events, the embedded Gemma model, the web UI).
# Arguments go to `minichat up`, e.g. scripts/up.sh --port 9000 --data-dir ./data
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh api,inference,model,worker
exec .venv/bin/minichat up "$@"
