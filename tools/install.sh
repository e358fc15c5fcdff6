#!/usr/bin/env bash
# Set up the development environment in $VENV (`make install`); safe to run
# again: every step checks what is there. mmcv 2.1.0 (with its ops) is built
# from source once into $WHEEL_CACHE and reused from there afterwards.
# Variables (default): PYTHON (python3) to create the venv with; VENV
# (.venv); TORCH_VERSION (2.13.0); TORCH_INDEX_URL, a PyTorch package index
# to take torch from, e.g. that of your CUDA version (unset: pip's own
# configuration decides, `pip config list`; on this project's machines the
# CPU build on disk, on plain PyPI a CUDA build); MMCV_FORCE_CUDA (0), 1 to
# build mmcv's CUDA ops too; MAX_JOBS (nproc), mmcv's parallel compile jobs;
# WHEEL_CACHE (~/.cache/rgpnet-mmseg/wheels), where the mmcv wheel is kept.
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

# The variant (torch's index, mmcv's CUDA ops) is recorded in the venv: a
# changed one reinstalls torch and mmcv (e.g. the switch to CUDA).
recorded() { cat "$VENV/.rgpnet-$1" 2>/dev/null || true; }
have_torch=$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)
if [ "$have_torch" != "$TORCH_VERSION" ] || [ "$(recorded torch-index)" != "$TORCH_INDEX_URL" ]; then
  log "installing torch==$TORCH_VERSION${TORCH_INDEX_URL:+ from $TORCH_INDEX_URL}"
  "${PIP[@]}" install -q ${have_torch:+--force-reinstall} "torch==$TORCH_VERSION" \
    ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
  printf '%s' "$TORCH_INDEX_URL" > "$VENV/.rgpnet-torch-index"
fi
torch_tag=$("$PY" -c 'import torch, sys; print(f"torch{torch.__version__}-py{sys.version_info[0]}{sys.version_info[1]}")')
mmcv_variant="mmcv-$MMCV_VERSION-$torch_tag-cuda$MMCV_FORCE_CUDA"

# mmcv runtime requirements first, so that the build finds numpy etc.
"${PIP[@]}" install -q addict numpy packaging pillow pyyaml yapf 'opencv-python>=3' 'mmengine==0.10.7'

have_mmcv=$("$PY" -c 'import mmcv, mmcv.ops; print(mmcv.__version__)' 2>/dev/null || true)
if [ "$have_mmcv" != "$MMCV_VERSION" ] || [ "$(recorded mmcv)" != "$mmcv_variant" ]; then
  cache_dir="$WHEEL_CACHE/$mmcv_variant"
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
  printf '%s' "$mmcv_variant" > "$VENV/.rgpnet-mmcv"
fi

log "installing rgpnet-mmseg (editable) with mmsegmentation, onnx, mim and test tools"
"${PIP[@]}" install -q -e '.[tests,deploy,mim]'
# mmdeploy 1.3.1 pins protobuf<=3.20.2, which today's onnx cannot use;
# openmim 0.3.9 (`mim train`, README) declares opendatalab, whose openxlab
# pins setuptools==60.2 (mmcv's build needs >=77), only for `mim download
# --dataset`: both --no-deps, their imports from our `deploy`/`mim` extras.
for pkg in mmdeploy==1.3.1 openmim==0.3.9; do
  "$PY" -c "import importlib.metadata as m; assert m.version('${pkg%%=*}') == '${pkg##*=}'" 2>/dev/null ||
    "${PIP[@]}" install -q --no-deps "$pkg"
done

"$PY" -c 'import rgpnet_mmseg, mmcv, mmseg, torch; print(f"[install] ok: torch {torch.__version__}, mmcv {mmcv.__version__}, mmseg {mmseg.__version__}, rgpnet_mmseg {rgpnet_mmseg.__version__}")'
"$VENV/bin/mim" --version
