#!/usr/bin/env bash
# Create .venv (Python 3.11+) and install MiniChat into it with the given extras (default: all,dev).
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${1:-all,dev}"
PYTHON="${PYTHON:-python3}"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "MiniChat needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$PYTHON" -m venv .venv
fi
# The install is redone only when what it is made from changed: the extras, the Python, or
# pyproject.toml (the packages are installed editable, so their code is read from the checkout).
# Remove .venv/.installed to force it.
STAMP=.venv/.installed
INSTALLED="$EXTRAS $(.venv/bin/python -VV | head -n 1) $(sha256sum pyproject.toml | cut -d ' ' -f 1)"
if [ "$(cat "$STAMP" 2>/dev/null)" = "$INSTALLED" ]; then
    echo "==> minichat[$EXTRAS] is installed in .venv (pyproject.toml unchanged)"
    exit 0
fi
rm -f "$STAMP"
.venv/bin/python -m pip install --quiet --upgrade pip

if [[ ",$EXTRAS," == *",all,"* || ",$EXTRAS," == *",model,"* ]] \
    && ! .venv/bin/python -c 'import llama_cpp' 2>/dev/null; then
    echo "==> building llama-cpp-python: it compiles llama.cpp, which takes several minutes"
    echo "    the first time on a small machine; pip's wheel cache makes later installs fast"
fi
# A build tuned to this CPU (-march=native) takes every instruction set it advertises; on
# virtual machines that advertise AMX, llama.cpp then crashes on its first token. The portable
# build (AVX2, FMA, F16C on x86-64) is what the inference image uses too.
if [ -z "${CMAKE_ARGS:-}" ] && [ "$(uname -m)" = x86_64 ]; then
    export CMAKE_ARGS="-DGGML_NATIVE=OFF"
fi
echo "==> installing minichat[$EXTRAS] into .venv"
set +o pipefail
.venv/bin/python -m pip install -e ".[$EXTRAS]" 2>&1 \
    | grep --line-buffered -vE '^(Requirement already satisfied|  Using cached)'
status="${PIPESTATUS[0]}"
set -o pipefail
if [ "$status" -ne 0 ]; then
    echo "pip install failed (exit $status); see the output above" >&2
    exit 1
fi
echo "$INSTALLED" >"$STAMP"
