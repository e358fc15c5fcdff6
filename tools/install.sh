#!/usr/bin/env bash
# Set up the development environment in $VENV (default .venv in the repo root).
#
# Runs under `make install`; safe to run again: every step checks what is
# already there. mmcv 2.1.0 (with its ops) is built from source once into
# $WHEEL_CACHE and reused from there afterwards.
#
# Variables:
#   PYTHON          interpreter to create the venv with     (python3)
#   VENV            where the venv lives                      (.venv)
#   TORCH_VERSION   torch release to install                  (2.13.0)
#   TORCH_INDEX_URL a PyTorch package index to take torch from, e.g. the
#                   one of your CUDA version (default: pip's own index; on
#                   this project's machines that is the CPU build on disk)
#   MMCV_FORCE_CUDA 1 to build mmcv's CUDA ops as well        (0)
#   MAX_JOBS        parallel compile jobs for mmcv            (nproc)
#   WHEEL_CACHE     where the built mmcv wheel is kept
#                   (~/.cache/rgpnet-mmseg/wheels)
set -euo pipefail

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-}
MMCV_VERSION=2.1.0
MMCV_FORCE_CUDA=${MMCV_FORCE_CUDA:-0}
WHEEL_CACHE=${WHEEL_CACHE:-$HOME/.cache/rgpnet-mmseg/wheels}
export MAX_JOBS=${MAX_JOBS:-$(nproc)}

log() { printf '[install] %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

# mmcv's setup.py imports pkg_resources, which setuptools 81 removed.
"${PIP[@]}" install -q --upgrade 'pip' 'setuptools>=77,<81' wheel ninja

have_torch=$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)
if [ "$have_torch" != "$TORCH_VERSION" ]; then
  log "installing torch==$TORCH_VERSION"
  if [ -n "$TORCH_INDEX_URL" ]; then
    "${PIP[@]}" install -q "torch==$TORCH_VERSION" --index-url "$TORCH_INDEX_URL"
  else
    "${PIP[@]}" install -q "torch==$TORCH_VERSION"
  fi
fi
torch_tag=$("$PY" -c 'import torch, sys; print(f"torch{torch.__version__}-py{sys.version_info[0]}{sys.version_info[1]}")')

# mmcv runtime requirements first, so that the build finds numpy etc.
"${PIP[@]}" install -q addict numpy packaging pillow pyyaml yapf 'opencv-python>=3' 'mmengine==0.10.7'

have_mmcv=$("$PY" -c 'import mmcv, mmcv.ops; print(mmcv.__version__)' 2>/dev/null || true)
if [ "$have_mmcv" != "$MMCV_VERSION" ]; then
  cache_dir="$WHEEL_CACHE/mmcv-$MMCV_VERSION-$torch_tag-cuda$MMCV_FORCE_CUDA"
  wheel=$(ls "$cache_dir"/mmcv-$MMCV_VERSION-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$wheel" ]; then
    log "building mmcv $MMCV_VERSION with ops into $cache_dir (once; ~20 min on 2 cores)"
    mkdir -p "$cache_dir"
    MMCV_WITH_OPS=1 FORCE_CUDA=$MMCV_FORCE_CUDA "${PIP[@]}" wheel -q --no-deps \
      --no-build-isolation "mmcv==$MMCV_VERSION" -w "$cache_dir"
    wheel=$(ls "$cache_dir"/mmcv-$MMCV_VERSION-*.whl | head -n 1)
  else
    log "reusing cached $wheel"
  fi
  "${PIP[@]}" install -q --no-deps --force-reinstall "$wheel"
fi

log "installing rgpnet-mmseg (editable) with mmsegmentation, onnx, mim and test tools"
"${PIP[@]}" install -q -e '.[tests,deploy,mim]'
# mmdeploy 1.3.1 pins protobuf<=3.20.2, which today's onnx cannot use, and
# openmim 0.3.9 (`mim train`, README) declares opendatalab, whose openxlab
# pins setuptools==60.2 (the mmcv build above needs >=77) and which only
# `mim download --dataset` runs: both go in --no-deps, their imports come
# from our `deploy` and `mim` extras (setup.cfg).
for pkg in mmdeploy==1.3.1 openmim==0.3.9; do
  if ! "$PY" -c "import importlib.metadata as m; assert m.version('${pkg%%=*}') == '${pkg##*=}'" 2>/dev/null; then
    "${PIP[@]}" install -q --no-deps "$pkg"
  fi
done

"$PY" -c 'import rgpnet_mmseg, mmcv, mmseg, torch; print(f"[install] ok: torch {torch.__version__}, mmcv {mmcv.__version__}, mmseg {mmseg.__version__}, rgpnet_mmseg {rgpnet_mmseg.__version__}")'
"$VENV/bin/mim" --version
