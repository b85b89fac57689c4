#!/bin/bash
# C++ batch-1 inference + accuracy, the model zoo's ascend310 deployment path.
#
#   bash scripts/run_infer_310.sh MODEL DATA_PATH [DEVICE_ID] [DEVICE_TYPE] [RESIZE] [CROP]
#
#   MODEL        .onnx -> ONNX Runtime backend (DEVICE_TYPE CPU); .mindir -> MindSpore backend (default Ascend310)
#   DATA_PATH    ImageNet-layout split dir: DATA_PATH/<class>/<image>, e.g. DATA/val
#   DEVICE_ID    default 0 (or $DEVICE_ID)
#   DEVICE_TYPE  CPU | Ascend310 | Ascend310P
#   RESIZE CROP  eval sizes, default $RESIZE/$CROP or 256/224 (FixRes 384: RESIZE=438 CROP=384)
#
# Python: $PYTHON, else the repo's .venv/bin/python, else python3.
# Builds ascend310_infer (incrementally), runs it, writes imagenet_label.json and runs postprocess.py, all in
# the current directory: result_Files/, time_Result/, imagenet_label.json, infer.log (everything logged) and
# acc.log. Returns only after acc.log is written. Exit status: 0 ok, 2 bad arguments or a missing
# prerequisite, anything else the failing step's.
set -uo pipefail

usage="Usage: bash $0 MODEL DATA_PATH [DEVICE_ID] [DEVICE_TYPE] [RESIZE] [CROP]"
die() { echo "run_infer_310.sh: error: $*" >&2; exit 2; }

if [ $# -lt 2 ] || [ $# -gt 6 ]; then
  echo "$usage" >&2
  exit 2
fi

abspath() { (cd "$(dirname "$1")" 2>/dev/null && echo "$(pwd -P)/$(basename "$1")"); }
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)

[ -f "$1" ] || die "model file not found: $1"
[ -d "$2" ] || die "dataset directory not found: $2"
MODEL=$(abspath "$1")
DATA_PATH=$(abspath "$2")
DEVICE_ID=${3:-${DEVICE_ID:-0}}
RESIZE=${5:-${RESIZE:-256}}
CROP=${6:-${CROP:-224}}

case "$MODEL" in
  *.onnx|*.ONNX) BACKEND=onnxruntime; DEFAULT_DEVICE=CPU ;;
  *.mindir|*.MINDIR) BACKEND=mindspore; DEFAULT_DEVICE=Ascend310 ;;
  *) die "cannot tell the backend from the model's extension: $1 (expected .onnx or .mindir)" ;;
esac
DEVICE_TYPE=${4:-${DEVICE_TYPE:-$DEFAULT_DEVICE}}
[ "$DEVICE_TYPE" = Ascend ] && DEVICE_TYPE=Ascend310
case "$DEVICE_TYPE" in
  CPU|Ascend310|Ascend310P) ;;
  *) die "DEVICE_TYPE must be CPU, Ascend310 or Ascend310P, got '$DEVICE_TYPE'" ;;
esac
[ "$BACKEND" = onnxruntime ] && [ "$DEVICE_TYPE" != CPU ] && \
  die "an .onnx model runs on the ONNX Runtime CPU backend; use DEVICE_TYPE CPU or a .mindir model for $DEVICE_TYPE"
for pair in "DEVICE_ID:$DEVICE_ID:0" "RESIZE:$RESIZE:1" "CROP:$CROP:1"; do
  IFS=: read -r name value minimum <<<"$pair"
  [[ "$value" =~ ^[0-9]+$ ]] && [ "$value" -ge "$minimum" ] || die "$name must be an integer >= $minimum, got '$value'"
done

if [ -n "${PYTHON:-}" ]; then
  :  # the caller's choice
elif [ -x "$REPO_DIR/.venv/bin/python" ]; then
  PYTHON="$REPO_DIR/.venv/bin/python"
else
  PYTHON=python3
fi
export PYTHON

LOG=infer.log
rm -rf result_Files time_Result acc.log imagenet_label.json
: >"$LOG" || die "cannot write $LOG in $(pwd)"
echo "model $MODEL ($BACKEND, $DEVICE_TYPE:$DEVICE_ID), data $DATA_PATH, resize $RESIZE, crop $CROP" | tee -a "$LOG"

step_failed() {  # step name, exit status
  echo "run_infer_310.sh: error: $1 failed (exit $2); last lines of $(pwd)/$LOG:" >&2
  tail -n 15 "$LOG" >&2
  exit "$2"
}

echo "[1/4] building ascend310_infer ($BACKEND)" | tee -a "$LOG"
BUILD_OUT=$(bash "$REPO_DIR/ascend310_infer/src/build.sh" "$BACKEND" 2>>"$LOG")
status=$?
[ "$status" -eq 0 ] || step_failed "build" "$status"
BIN=$(printf '%s\n' "$BUILD_OUT" | tail -n 1)
[ -x "$BIN" ] || step_failed "build (no binary at '$BIN')" 1

echo "[2/4] inference" | tee -a "$LOG"
"$BIN" --model_path "$MODEL" --dataset_path "$DATA_PATH" --device_type "$DEVICE_TYPE" --device_id "$DEVICE_ID" \
  --resize "$RESIZE" --crop "$CROP" --output_dir . >>"$LOG" 2>&1 || step_failed "inference" $?

echo "[3/4] label file" | tee -a "$LOG"
"$PYTHON" "$REPO_DIR/create_imagenet2012_label.py" --img_path "$DATA_PATH" --output imagenet_label.json \
  >>"$LOG" 2>&1 || step_failed "create_imagenet2012_label.py" $?

echo "[4/4] postprocess" | tee -a "$LOG"
"$PYTHON" "$REPO_DIR/postprocess.py" --result_path result_Files --label_path imagenet_label.json --acc_log acc.log \
  >>"$LOG" 2>&1 || step_failed "postprocess.py" $?

[ -s acc.log ] || step_failed "postprocess.py (no acc.log)" 1
cat time_Result/test_perform_static.txt 2>/dev/null
cat acc.log
