#!/usr/bin/env bash
# A throwaway virtual environment that runs musicnn's own TensorFlow code, for regenerating
# tests/data/musicnn_golden.npz (never the project's .venv; none of this becomes a dependency):
#
#   bash scripts/musicnn_reference_venv.sh            # creates /tmp/musicnn-reference (or $1)
#   TF_USE_LEGACY_KERAS=1 PYTHONPATH=src MUSICGENRE_SHARED=../shared \
#       /tmp/musicnn-reference/bin/python scripts/make_musicnn_golden.py
#
# tensorflow-cpu 2.21 with tf-keras 2.21 and TF_USE_LEGACY_KERAS=1 runs musicnn 0.1.0's tf.compat.v1 graph;
# musicnn is installed with --no-deps because its wheel pins tensorflow<2 and numpy<1.17.
set -euo pipefail
VENV=${1:-/tmp/musicnn-reference}
python3.11 -m venv "$VENV"
"$VENV/bin/pip" install -q "tensorflow-cpu==2.21.0" "tf-keras~=2.21.0" librosa soundfile soxr
"$VENV/bin/pip" install -q --no-deps "musicnn==0.1.0"
echo "musicnn reference tools in $VENV"
