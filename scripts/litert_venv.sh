#!/usr/bin/env bash
# A throwaway virtual environment with only Google's LiteRT interpreter (ai-edge-litert) and numpy, for
# timing the interpreter in a process of its own (benchmarks/bench_yamnet_isolated.py):
#
#   bash scripts/litert_venv.sh                 # creates /tmp/litert-ref (or $1)
#
# Measured with ai-edge-litert 2.3.0. It never becomes a dependency of the package.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-/tmp/litert-ref}
python3.11 -m venv "$VENV"
"$VENV/bin/pip" install -q "numpy==$(grep '^numpy==' requirements-lock.txt | cut -d= -f3)" "ai-edge-litert==2.3.0"
echo "LiteRT interpreter in $VENV"
