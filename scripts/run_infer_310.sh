#!/bin/bash
# C++ batch-1 inference + accuracy, the model zoo's ascend310 deployment path.
#
#   bash scripts/run_infer_310.sh MODEL DATA_PATH [DEVICE_ID] [DEVICE_TYPE] [RESIZE] [CROP]
#
#   MODEL        .onnx -> ONNX Runtime C++ API (CPU); .mindir -> MindSpore C++ API on Ascend310/Ascend310P, or on
#                CPU MindSpore's runtime through its Python API embedded in the harness (not the C++ API);
#                a MindSpore Lite model (NAME_lite.mindir, its NAME_lite.json says format MINDIR_LITE) ->
#                MindSpore's C++ API on MindSpore Lite (CPU: the mindspore-lite wheel, fetched by build.sh)
#   DATA_PATH    ImageNet-layout split dir: DATA_PATH/<class>/<image>, e.g. DATA/val
#   DEVICE_ID    default 0 (or $DEVICE_ID)
#   DEVICE_TYPE  CPU | Ascend310 | Ascend310P (or $DEVICE_TYPE); default for .mindir: Ascend310 on a host with
#                the Ascend driver (/dev/davinci_manager), else CPU
#   RESIZE CROP  eval sizes (or $RESIZE/$CROP); default: the export's NAME.json next to MODEL
#                (preprocess.resize_size / crop_size, also its mean/std); explicit values win
#
# Python: $PYTHON, else the repo's .venv/bin/python, else python3 (mindzoo.deploy.infer_plan reads NAME.json).
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
[[ "$DEVICE_ID" =~ ^[0-9]+$ ]] || die "DEVICE_ID must be an integer >= 0, got '$DEVICE_ID'"

if [ -n "${PYTHON:-}" ]; then
  :  # the caller's choice
elif [ -x "$REPO_DIR/.venv/bin/python" ]; then
  PYTHON="$REPO_DIR/.venv/bin/python"
else
  PYTHON=python3
fi
export PYTHON

# Backend, device and preprocessing: mindzoo.deploy.infer_plan reads the sidecar (one-line error, exit 2, if it can't).
PLAN_ERR=$(mktemp)
trap 'rm -f "$PLAN_ERR"' EXIT
PLAN=$(PYTHONPATH="$REPO_DIR/src${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m mindzoo.deploy.infer_plan "$MODEL" \
  --device_type "${4:-${DEVICE_TYPE:-}}" --resize "${5:-${RESIZE:-}}" --crop "${6:-${CROP:-}}" 2>"$PLAN_ERR")
status=$?
cat "$PLAN_ERR" >&2
[ "$status" -eq 0 ] || exit "$status"
while IFS='=' read -r key value; do
  case "$key" in
    BACKEND|DEVICE_TYPE|RESIZE|CROP|MEAN|STD|SIZES|REASON) printf -v "PLAN_$key" '%s' "$value" ;;
  esac
done <<<"$PLAN"

LOG=infer.log
rm -rf result_Files time_Result acc.log imagenet_label.json
: >"$LOG" || die "cannot write $LOG in $(pwd)"
cat "$PLAN_ERR" >>"$LOG"
echo "model $MODEL ($PLAN_BACKEND, $PLAN_DEVICE_TYPE:$DEVICE_ID), data $DATA_PATH," \
  "resize $PLAN_RESIZE, crop $PLAN_CROP ($PLAN_SIZES)" | tee -a "$LOG"
echo "backend $PLAN_BACKEND: $PLAN_REASON" | tee -a "$LOG"

step_failed() {  # step name, exit status: the step's own one-line error if it printed one, else the log's tail
  local reason
  reason=$(grep -E '(^|: )error: ' "$LOG" | tail -n 1)
  if [ -n "$reason" ]; then
    echo "run_infer_310.sh: error: $1 failed (exit $2): ${reason#*error: } (log: $(pwd)/$LOG)" >&2
  else
    echo "run_infer_310.sh: error: $1 failed (exit $2); last lines of $(pwd)/$LOG:" >&2
    tail -n 15 "$LOG" >&2
  fi
  exit "$2"
}

echo "[1/4] building ascend310_infer ($PLAN_BACKEND)" | tee -a "$LOG"
BUILD_OUT=$(bash "$REPO_DIR/ascend310_infer/src/build.sh" "$PLAN_BACKEND" 2>>"$LOG")
status=$?
[ "$status" -eq 0 ] || step_failed "build" "$status"
BIN=$(printf '%s\n' "$BUILD_OUT" | tail -n 1)
[ -x "$BIN" ] || step_failed "build (no binary at '$BIN')" 1

echo "[2/4] inference" | tee -a "$LOG"
"$BIN" --model_path "$MODEL" --dataset_path "$DATA_PATH" --device_type "$PLAN_DEVICE_TYPE" --device_id "$DEVICE_ID" \
  --resize "$PLAN_RESIZE" --crop "$PLAN_CROP" --mean "$PLAN_MEAN" --std "$PLAN_STD" --output_dir . \
  >>"$LOG" 2>&1 || step_failed "inference" $?

echo "[3/4] label file" | tee -a "$LOG"
"$PYTHON" "$REPO_DIR/create_imagenet2012_label.py" --img_path "$DATA_PATH" --output imagenet_label.json \
  >>"$LOG" 2>&1 || step_failed "create_imagenet2012_label.py" $?

echo "[4/4] postprocess" | tee -a "$LOG"
"$PYTHON" "$REPO_DIR/postprocess.py" --result_path result_Files --label_path imagenet_label.json --acc_log acc.log \
  >>"$LOG" 2>&1 || step_failed "postprocess.py" $?

[ -s acc.log ] || step_failed "postprocess.py (no acc.log)" 1
cat time_Result/test_perform_static.txt 2>/dev/null
cat acc.log
