#!/usr/bin/env bash
# tools/device_check.sh [--dry-run] OUT_DIR [CHECKPOINT]: the one-shot GPU
# check, offline, <= 8 min (what it runs, --dry-run: docs/device_check.md).
# Writes OUT_DIR/report.md, report.json, a log per step; exit 0: all passed.
set -u
[ "${1:-}" = --dry-run ] && { DRY_RUN=1; shift; }
OUT=${1:?usage: tools/device_check.sh [--dry-run] OUT_DIR [CHECKPOINT]}
CKPT=${2:-}; DRY=${DRY_RUN:-0}; PY=${PYTHON:-.venv/bin/python}
cd "$(dirname "$0")/.." && mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
: > "$OUT/steps.tsv"; export PYTHONUNBUFFERED=1; END=$((SECONDS + 460))
step() {  # step NAME SECONDS CMD...: OUT/NAME.log, a row of OUT/steps.tsv;
  local name=$1 limit=$2 t=$SECONDS; shift 2  # all steps within 460 s
  [ $((END - SECONDS)) -lt "$limit" ] && limit=$((END - SECONDS))
  echo "== $name ($limit s)" >&2
  if [ "$limit" -lt 15 ]; then
    echo "SKIPPED: no time left of the 460 s" > "$OUT/$name.log"
    printf '%s\t124\t0\n' "$name" >> "$OUT/steps.tsv"; return
  fi
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  printf '%s\t%s\t%s\n' "$name" $? $((SECONDS - t)) >> "$OUT/steps.tsv"
}
step env 60 $PY tools/device_check.py env "$OUT"
TRT=$(sed -n 's/^env\t0\t.*/1/p' "$OUT/steps.tsv")
DEV=cuda IT=20 BACKENDS="tensorrt tensorrt-fp16 tensorrt-int8"
ZOO="rgpnet-r18 rgpnet-r101 bisenetv1-r18 ddrnet-23-slim pidnet-s"
COMPILE="rgpnet-r18 bisenetv1-r18 ddrnet-23-slim pidnet-s rgpnet-r101"
Z="--shape 1024 2048 --repeats 20 --warmup 3" B="--repeats 50 --warmup 10"
K="(tensorrt or cuda) and not deploy_tool"  # deploy_<backend> runs it
if [ "$DRY" = 1 ]; then
  DEV=cpu IT=2 BACKENDS="onnxruntime onnxruntime-int8" K=int8_precision
  ZOO="rgpnet-r18 bisenetv1-r18" COMPILE=rgpnet-r18 B="--repeats 1 --warmup 0"
  Z="--shape 64 128 --repeats 1 --warmup 0 --threads 1"
fi
[ "$DRY" != 1 ] && [ -z "$TRT" ] && BACKENDS=  # the reason: env.json
[ -d data/demo/leftImg8bit ] || step demo_data 120 $PY tools/make_demo_data.py
if [ -z "$CKPT" ]; then
  step train 150 $PY tools/train.py configs/rgpnet_r18_demo.py --work-dir \
    "$OUT/train" --cfg-options train_cfg.max_iters=$IT \
    train_cfg.val_interval=$IT default_hooks.checkpoint.interval=$IT \
    train_dataloader.num_workers=0 train_dataloader.persistent_workers=False
  CKPT=$OUT/train/iter_$IT.pth
fi
ZB="$PY tools/benchmark.py zoo --device $DEV $Z --fp16 --fast-paths"
step zoo 120 $ZB --models $ZOO --out-md "$OUT/zoo.md"  # eager FP32, FP16
IMG=data/demo/leftImg8bit/val/democity/democity_000000_000019_leftImg8bit.png
S='[1, 3, 128, 256]'  # the demo images, H x W
for b in $BACKENDS; do
  printf '%s\n' "_base_ = ['$PWD/configs/deploy/segmentation_${b}_static-512x1024.py']" \
    "onnx_config = dict(input_shape=[256, 128])" "backend_config = dict(model_inputs=[dict(input_shapes=dict(input=dict(min_shape=$S, opt_shape=$S, max_shape=$S)))])" \
    > "$OUT/deploy_$b.py"
  step "deploy_$b" 150 $PY tools/deploy.py "$OUT/deploy_$b.py" \
    configs/rgpnet_r18_demo.py "$CKPT" "$IMG" --work-dir "$OUT/deploy_$b" \
    --device $DEV --miou-max-images 8
  W=$OUT/deploy_$b/end2end  # its FPS beside PyTorch eager, on 128x256
  case $b in tensorrt*) F="tensorrt --engine $W.engine";;
    *) F="onnxruntime --onnx $W.onnx";; esac
  step "bench_$b" 60 $PY tools/benchmark.py deploy configs/rgpnet_r18_demo.py \
    --checkpoint "$CKPT" --shape 128 256 --device $DEV $B --work-dir \
    "$OUT/bench_$b" --backend pytorch $F $([ $b = tensorrt-fp16 ] && echo --fp16)
done
for m in $COMPILE; do  # slow compiles: what is left, 90 s kept for tests
  step "zoo_compile_$m" $((END - 90 - SECONDS)) $ZB compile --models $m \
    --fast-models $m --out-md "$OUT/zoo_compile_$m.md"
done
TESTS="tests/test_deploy.py tests/test_infer.py tests/test_cuda.py
  tests/test_tensorrt_int8.py"
step tests 120 $PY -m pytest -q -rs $TESTS -k "$K"
$PY tools/device_check.py report "$OUT"; rc=$?
cat "$OUT/report.md"; exit $rc
