# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The conversion that ``tools/deploy.py`` runs: mmdeploy's own pipeline
(SDK info -> ``torch2onnx`` -> backend), in one process, then a parity check
of the backend against PyTorch and, for TensorRT FP16 or on request, the
mIoU of both on a val split."""
import copy
import logging
import os
import os.path as osp
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import onnx

from .checks import DeployConfigError, check_deploy_config
from .exporter import EXPORTER_ENV, LAST_EXPORT, choose_exporter
from .onnx_graph import FORBIDDEN_OPS, op_types
from .runners import ORTRunner, TensorRTRunner, TorchRunner, compare_outputs

logger = logging.getLogger('rgpnet_mmseg.deploy')

# parity of FP32 backends with PyTorch (issue 5): labels and logits
MIN_PIXEL_AGREEMENT = 0.999
MAX_LOGITS_REL_DIFF = 1e-3


class DeployError(RuntimeError):
    """The conversion cannot run here (e.g. no TensorRT)."""


@dataclass
class DeployResult:
    """What :func:`run_deploy` made and measured."""
    work_dir: str
    onnx_file: str
    backend: str
    backend_files: List[str]
    export: Dict[str, Any] = field(default_factory=dict)
    ops: List[str] = field(default_factory=list)
    parity: Optional[Dict[str, Any]] = None
    miou: Optional[Dict[str, Any]] = None


def load_configs(deploy_cfg: Any,
                 model_cfg: Any,
                 with_argmax: Optional[bool] = None,
                 cfg_options: Optional[Dict] = None):
    """Load the deploy and model configs (paths or Configs) as mmdeploy
    does, with ``codebase_config.with_argmax`` overridden when given and
    ``rgpnet_mmseg.deploy`` added to the codebase's custom modules."""
    from mmdeploy.utils import load_config
    deploy_cfg, model_cfg = load_config(deploy_cfg, model_cfg)
    deploy_cfg = copy.deepcopy(deploy_cfg)
    codebase = deploy_cfg.setdefault('codebase_config', {})
    modules = list(codebase.get('module', []) or [])
    if 'rgpnet_mmseg.deploy' not in modules:
        modules.append('rgpnet_mmseg.deploy')
    codebase['module'] = modules
    if with_argmax is not None:
        codebase['with_argmax'] = bool(with_argmax)
    if cfg_options:
        model_cfg.merge_from_dict(cfg_options)
    return deploy_cfg, model_cfg


@contextmanager
def _exporter_env(exporter: Optional[str]):
    if exporter is None:
        yield
        return
    choose_exporter(exporter)  # fail early on a bad name
    old = os.environ.get(EXPORTER_ENV)
    os.environ[EXPORTER_ENV] = exporter
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(EXPORTER_ENV, None)
        else:
            os.environ[EXPORTER_ENV] = old


def _with_argmax(deploy_cfg) -> bool:
    return bool(deploy_cfg.get('codebase_config', {}).get('with_argmax', True))


def _trt_opt_shape(deploy_cfg) -> Optional[List[int]]:
    model_inputs = deploy_cfg.get('backend_config', {}).get('model_inputs')
    for params in model_inputs or []:
        for shapes in (params.get('input_shapes') or {}).values():
            if 'opt_shape' in shapes:
                return list(shapes['opt_shape'])
    return None


def check_parity(model_cfg: Any,
                 deploy_cfg: Any,
                 checkpoint: Optional[str],
                 backend_files: List[str],
                 img: Any,
                 device: str = 'cpu') -> Dict[str, Any]:
    """Run ``img`` through PyTorch and the backend; compare.

    The image goes through mmdeploy's input creation once (test pipeline,
    resized to the static input shape where the deploy config has one, to
    the ``opt_shape`` of a dynamic TensorRT profile, normalised); PyTorch's
    logits come from the same computation as the exported graph
    (``decode_head.predict``), so the figures measure the conversion alone.

    Returns:
        dict: ``backend``, ``input_shape``, ``pixel_agreement`` and, where
        the backend gives logits, ``logits_max_abs_diff`` etc., plus
        ``ok`` (FP32 thresholds met; None for FP16, judged by mIoU).
    """
    from mmdeploy.apis.utils import build_task_processor
    from mmdeploy.utils import get_backend, get_common_config, get_input_shape

    backend = get_backend(deploy_cfg).value
    task_processor = build_task_processor(model_cfg, deploy_cfg, device)
    torch_model = task_processor.build_pytorch_model(checkpoint)
    input_shape = get_input_shape(deploy_cfg)
    if input_shape is None and backend == 'tensorrt':
        # a dynamic engine takes its profile's shapes only: use opt_shape
        opt = _trt_opt_shape(deploy_cfg)
        if opt is not None:
            input_shape = [opt[-1], opt[-2]]  # (W, H)
    _, inputs = task_processor.create_input(
        img,
        input_shape,
        data_preprocessor=getattr(torch_model, 'data_preprocessor', None))
    ref = TorchRunner(torch_model, device, with_argmax=False)(inputs)
    if backend == 'onnxruntime':
        providers = ['CPUExecutionProvider']
        if str(device).startswith('cuda'):
            import onnxruntime as ort
            if 'CUDAExecutionProvider' in ort.get_available_providers():
                providers.insert(0, 'CUDAExecutionProvider')
        out = ORTRunner(
            backend_files[0], providers=providers, with_logits=True)(inputs)
    elif backend == 'tensorrt':
        out = TensorRTRunner(backend_files[0], device)(inputs)
    else:
        raise DeployError(f'No parity check for backend {backend!r}')
    result = dict(backend=backend, input_shape=list(inputs.shape))
    result.update(
        compare_outputs(ref['logits'], out['output'], out.get('logits')))
    fp16 = backend == 'tensorrt' and bool(
        get_common_config(deploy_cfg).get('fp16_mode', False))
    result['fp16'] = fp16
    if fp16:
        result['ok'] = None
    else:
        ok = result['pixel_agreement'] >= MIN_PIXEL_AGREEMENT
        if 'logits_max_abs_diff' in result:
            scale = max(result['logits_max_abs'], 1.0)
            result['logits_rel_diff'] = result['logits_max_abs_diff'] / scale
            ok = ok and result['logits_rel_diff'] <= MAX_LOGITS_REL_DIFF
        result['ok'] = ok
    return result


def format_parity(p: Dict[str, Any]) -> str:
    """One line for the log."""
    line = (f'parity {p["backend"]}{" FP16" if p.get("fp16") else ""} vs '
            f'pytorch on input {"x".join(map(str, p["input_shape"]))}: '
            f'{100 * p["pixel_agreement"]:.3f}% of pixels agree')
    if 'logits_max_abs_diff' in p:
        line += (f'; logits max |diff| {p["logits_max_abs_diff"]:.2e}, mean '
                 f'{p["logits_mean_abs_diff"]:.2e} (max |logit| '
                 f'{p["logits_max_abs"]:.2f})')
    if p.get('ok') is True:
        line += (f' -> OK (>= {100 * MIN_PIXEL_AGREEMENT:.1f}% pixels, '
                 f'logits within {MAX_LOGITS_REL_DIFF:g} relative)')
    elif p.get('ok') is False:
        line += (f' -> FAILED (needs >= {100 * MIN_PIXEL_AGREEMENT:.1f}% '
                 f'pixels and logits within {MAX_LOGITS_REL_DIFF:g} '
                 'relative)')
    else:
        line += ' (FP16: judged by the mIoU difference)'
    return line


def format_miou(m: Dict[str, Any]) -> str:
    """One line for the log."""
    return (f'mIoU on {m["images"]} {m.get("split", "val")} images: pytorch '
            f'{m["pytorch_miou"]:.2f}, {m.get("backend", "backend")} '
            f'{m["backend_miou"]:.2f} (difference {m["miou_diff"]:+.2f} '
            f'points; {100 * m["pixel_agreement"]:.3f}% of pixels agree)')


def run_deploy(deploy_cfg: Any,
               model_cfg: Any,
               checkpoint: Optional[str],
               img: Any,
               work_dir: str,
               *,
               device: str = 'cpu',
               exporter: Optional[str] = None,
               with_argmax: Optional[bool] = None,
               test_img: Any = None,
               parity: bool = True,
               miou: Optional[bool] = None,
               miou_split: str = 'val',
               miou_max_images: Optional[int] = None,
               data_root: Optional[str] = None,
               cfg_options: Optional[Dict] = None,
               dump_info: bool = True) -> DeployResult:
    """Convert a model as mmdeploy's ``tools/deploy.py`` does, then check it.

    Steps: load and check the configs (shapes before anything is built);
    ``export2SDK`` (``deploy.json``, ``pipeline.json``, ``detail.json``);
    :func:`mmdeploy.apis.torch2onnx` (through
    :func:`~rgpnet_mmseg.deploy.exporter.export_onnx`); the backend step
    (TensorRT: :mod:`rgpnet_mmseg.deploy.tensorrt`; ONNX Runtime runs the
    ONNX file); :func:`check_parity` on ``test_img`` (default ``img``);
    :func:`~rgpnet_mmseg.deploy.evaluation.evaluate_backend_miou` when
    ``miou`` (default: for TensorRT FP16).

    Returns:
        DeployResult: Files and figures.

    Raises:
        DeployConfigError: A shape the model cannot take.
        DeployError: The backend cannot run here.
        ExporterError: The requested exporter is not available.
    """
    from mmdeploy.apis import torch2onnx
    from mmdeploy.backend.sdk.export_info import export2SDK
    from mmdeploy.utils import (get_backend, get_common_config,
                                get_ir_config)

    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'Checkpoint file not found: {checkpoint}')
    if isinstance(img, str) and not osp.isfile(img):
        raise FileNotFoundError(f'Image file not found: {img}')
    name = deploy_cfg if isinstance(deploy_cfg, str) else 'deploy config'
    deploy_cfg, model_cfg = load_configs(deploy_cfg, model_cfg, with_argmax,
                                         cfg_options)
    check_deploy_config(deploy_cfg, name)
    backend = get_backend(deploy_cfg).value
    if backend not in ('onnxruntime', 'tensorrt'):
        raise DeployError(f'{name}: backend {backend!r} is not supported by '
                          'rgpnet-mmseg (onnxruntime, tensorrt)')
    if backend == 'tensorrt':
        from .tensorrt import tensorrt_unavailable_reason
        reason = tensorrt_unavailable_reason()
        if reason:
            raise DeployError(f'{name} asks for TensorRT: {reason}')
        if not str(device).startswith('cuda'):
            raise DeployError(f'TensorRT needs --device cuda, got {device}')
    choose_exporter(exporter)  # fail before any work on a bad name
    os.makedirs(work_dir, exist_ok=True)
    if dump_info:
        # copies: mmseg's get_postprocess writes `with_argmax` into the
        # decode_head config it is given
        export2SDK(
            copy.deepcopy(deploy_cfg),
            copy.deepcopy(model_cfg),
            work_dir,
            pth=checkpoint,
            device=device)
    ir_file = get_ir_config(deploy_cfg)['save_file']
    onnx_file = osp.join(work_dir, ir_file)
    LAST_EXPORT.clear()
    with _exporter_env(exporter):
        torch2onnx(img, work_dir, ir_file, deploy_cfg, model_cfg, checkpoint,
                   device)
    model = onnx.load(onnx_file)
    ops = sorted(op_types(model))
    forbidden = FORBIDDEN_OPS & set(ops)
    if forbidden:
        raise DeployError(f'{onnx_file} still holds {sorted(forbidden)}')
    result = DeployResult(
        work_dir=work_dir,
        onnx_file=onnx_file,
        backend=backend,
        backend_files=[onnx_file],
        export=dict(LAST_EXPORT),
        ops=ops)
    if backend == 'tensorrt':
        from .tensorrt import build_engines_from_deploy_cfg
        result.backend_files = build_engines_from_deploy_cfg([onnx_file],
                                                             work_dir,
                                                             deploy_cfg,
                                                             device)
    if parity:
        result.parity = check_parity(model_cfg, deploy_cfg, checkpoint,
                                     result.backend_files, test_img or img,
                                     device)
    fp16 = backend == 'tensorrt' and bool(
        get_common_config(deploy_cfg).get('fp16_mode', False))
    if miou is None:
        miou = fp16
    if miou:
        from .evaluation import evaluate_backend_miou
        try:
            result.miou = evaluate_backend_miou(
                model_cfg,
                deploy_cfg,
                checkpoint,
                result.backend_files,
                device=device,
                split=miou_split,
                max_images=miou_max_images,
                data_root=data_root)
        except (FileNotFoundError, KeyError) as err:
            raise DeployError(
                f'converted into {work_dir}, but the mIoU comparison needs '
                f'the {miou_split} split of the model config ({err}); point '
                '--data-root at it, or skip it with --no-miou') from err
        result.miou.update(split=miou_split,
                           backend=backend + (' FP16' if fp16 else ''))
    return result


__all__ = [
    'DeployConfigError', 'DeployError', 'DeployResult', 'check_parity',
    'format_miou', 'format_parity', 'load_configs', 'run_deploy'
]
