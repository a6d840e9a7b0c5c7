#!/usr/bin/env bash
# A throwaway virtual environment with the reference tools (librosa, the LiteRT interpreter), apart from
# the project's own .venv, for regenerating golden files and running reference benchmarks:
#
#   bash scripts/reference_venv.sh                 # creates /tmp/musicgenre-reference (or $1)
#   /tmp/musicgenre-reference/bin/python scripts/make_mfcc_golden.py
#
# The reference tools never become dependencies of the package.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-/tmp/musicgenre-reference}
python3.11 -m venv "$VENV"
"$VENV/bin/pip" install -q -c requirements-lock.txt "torch==2.13.0"
"$VENV/bin/pip" install -q -c requirements-lock.txt -e ".[reference]"
echo "reference tools in $VENV"
