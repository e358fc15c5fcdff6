#!/usr/bin/env bash
# tools/device_check.sh [--dry-run] OUT_DIR [CHECKPOINT]: the one-shot GPU
# check, offline, <= 8 min (what it runs, --dry-run: docs/device_check.md).
# Writes OUT_DIR/report.md, report.json, a log per step; exit 0: all passed.
set -u
[ "${1:-}" = --dry-run ] && { DRY_RUN=1; shift; }
OUT=${1:?usage: tools/device_check.sh [--dry-run] OUT_DIR [CHECKPOINT]}
CKPT=${2:-}; DRY=${DRY_RUN:-0}; PY=${PYTHON:-.venv/bin/python}
cd "$(dirname "$0")/.." && mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
: > "$OUT/steps.tsv"; export PYTHONUNBUFFERED=1
step() {  # step NAME SECONDS CMD...: OUT/NAME.log, a row of OUT/steps.tsv
  local name=$1 limit=$2 t=$SECONDS; shift 2; echo "== $name" >&2
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  printf '%s\t%s\t%s\n' "$name" $? $((SECONDS - t)) >> "$OUT/steps.tsv"
}
step env 120 $PY tools/device_check.py env "$OUT"
TRT=$(sed -n 's/^env\t0\t.*/1/p' "$OUT/steps.tsv")
DEV=cuda IT=20 BACKENDS="tensorrt tensorrt-fp16" K="tensorrt or cuda"
[ "$DRY" = 1 ] && DEV=cpu IT=2 BACKENDS=onnxruntime K=builder_precision
[ "$DRY" != 1 ] && [ -z "$TRT" ] && BACKENDS=  # the reason: env.json
[ -d data/demo/leftImg8bit ] || step demo_data 120 $PY tools/make_demo_data.py
if [ -z "$CKPT" ]; then
  step train 180 $PY tools/train.py configs/rgpnet_r18_demo.py --work-dir \
    "$OUT/train" --cfg-options train_cfg.max_iters=$IT \
    train_cfg.val_interval=$IT default_hooks.checkpoint.interval=$IT \
    train_dataloader.num_workers=0 train_dataloader.persistent_workers=False
  CKPT=$OUT/train/iter_$IT.pth
fi
IMG=data/demo/leftImg8bit/val/democity/democity_000000_000019_leftImg8bit.png
S='[1, 3, 128, 256]'  # the demo images, H x W
for b in $BACKENDS; do
  printf '%s\n' "_base_ = ['$PWD/configs/deploy/segmentation_${b}_static-512x1024.py']" \
    "onnx_config = dict(input_shape=[256, 128])" "backend_config = dict(model_inputs=[dict(input_shapes=dict(input=dict(min_shape=$S, opt_shape=$S, max_shape=$S)))])" \
    > "$OUT/deploy_$b.py"
  step "deploy_$b" 150 $PY tools/deploy.py "$OUT/deploy_$b.py" \
    configs/rgpnet_r18_demo.py "$CKPT" "$IMG" --work-dir "$OUT/deploy_$b" \
    --device $DEV --miou-max-images 8
done
TESTS="tests/test_deploy.py tests/test_infer.py tests/test_cuda.py"
T=$((470 - SECONDS)); step tests $((T > 60 ? T : 60)) $PY -m pytest -q -rs $TESTS -k "$K"
$PY tools/device_check.py report "$OUT"; rc=$?
cat "$OUT/report.md"; exit $rc
