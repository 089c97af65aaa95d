#!/usr/bin/env bash
# Set up dropseg, train five variants of the cpu preset, cut to 12 epochs, in the background
# (about 8 minutes on two idle cores) and start the explorer at once. The explorer shows each epoch as it finishes.
# Usage: bash demo.sh [explorer options such as --port 7861]
set -euo pipefail
cd "$(dirname "$0")"

VARIANTS="none,all-chandrop,all-chandrop-sched,upper-uout,decoder-dropblock"
RUN_DIR="checkpoints/demo"
LOG="checkpoints/demo-training.log"

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -e .

DATA_ROOT="$(.venv/bin/python - <<'PY'
import sys
from dropseg.data import default_data_root
from dropseg.data.voc import GET_VOC_HINT

try:
    root = default_data_root()
except FileNotFoundError as error:
    sys.exit(f"error: {error}")
if root is None:
    sys.exit(f"error: no PASCAL VOC 2012 found in $DROPSEG_DATA, ./data or ../shared/data. {GET_VOC_HINT}")
print(root)
PY
)"

mkdir -p checkpoints
echo "training $VARIANTS on $DATA_ROOT into $RUN_DIR; log: $LOG"
.venv/bin/python -m training train --preset cpu --data "$DATA_ROOT" --out "$RUN_DIR" --variants "$VARIANTS" \
  --epochs 12 >"$LOG" 2>&1 &
TRAINING_PID=$!

# The explorer runs as a child too, so that stopping this script stops both. Rerunning the
# script resumes the training where it stopped.
.venv/bin/python app.py --runs checkpoints "$@" &
EXPLORER_PID=$!
trap 'kill "$TRAINING_PID" "$EXPLORER_PID" 2>/dev/null || true' EXIT
wait "$EXPLORER_PID"
