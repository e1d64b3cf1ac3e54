#!/bin/sh
# The dev image's entrypoint (skaffold's sync profile): `minichat ARGS` run from a copy of
# MiniChat's packages in /tmp (an emptyDir, writable under the read-only root filesystem), and
# restarted whenever skaffold syncs a Python file into that copy. One-shot commands (migrate,
# model) run once, as in the production image.
set -eu
src="${MINICHAT_DEV_SRC:-/tmp/minichat-src}"
case "${1:-}" in
    migrate | model) exec minichat "$@" ;;
esac
if [ ! -d "$src/minichat" ]; then
    mkdir -p "$src"
    python - "$src" <<'PY'
import importlib.util, shutil, sys
for package in ("minichat", "minichat_api", "minichat_inference", "minichat_worker",
                "minichat_cli", "minichat_operator"):
    spec = importlib.util.find_spec(package)
    if spec and spec.submodule_search_locations:
        shutil.copytree(spec.submodule_search_locations[0], f"{sys.argv[1]}/{package}")
PY
fi
# Ahead of site-packages, so the synced copy is what Python imports.
export PYTHONPATH="$src"
command="minichat"
for arg in "$@"; do
    command="$command '$arg'"
done
exec watchfiles --filter python "$command" "$src"
