#!/usr/bin/env bash
# promtool, Prometheus's rule checker, built once from its Go module into a cache keyed by its
# version; the tests check and unit-test the chart's alert rules with it.
#
#   scripts/promtool.sh build  build it if it is not cached, print its path
#   scripts/promtool.sh ARGS   run it (e.g. scripts/promtool.sh check rules FILE)
set -euo pipefail

PROMETHEUS_VERSION=v0.316.0  # the Go module of Prometheus 3.16
CACHE="${MINICHAT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/minichat}"
BIN="$CACHE/promtool/$PROMETHEUS_VERSION/promtool"

say() { echo "==> promtool: $*" >&2; }
fail() { echo "promtool.sh: $*" >&2; exit 1; }

build() {
    [ -x "$BIN" ] && return
    command -v go >/dev/null || fail "Go is not installed; promtool is built from its Go module (Go 1.26 or newer)"
    say "building promtool from github.com/prometheus/prometheus $PROMETHEUS_VERSION (once; a few minutes)"
    local partial="$BIN.partial"
    rm -rf "$partial"
    mkdir -p "$partial"
    GOBIN="$partial" CGO_ENABLED=0 GOFLAGS=-mod=mod \
        go install -trimpath "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION" \
        || fail "the Go build failed; see the lines above"
    mv "$partial/promtool" "$BIN"
    rmdir "$partial"
    say "built: $("$BIN" --version | head -1)"
}

case "${1:-}" in
    build) build; echo "$BIN" ;;
    "") fail "usage: scripts/promtool.sh build | ARGS..." ;;
    *) build; exec "$BIN" "$@" ;;
esac
