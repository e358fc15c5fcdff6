# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""A deploy config's shapes, precision and split data, checked against what
RGPNet can take before any export (one message naming the key)."""
import copy
from typing import Any, Dict, Iterable, List, Optional, Sequence

import torch.nn as nn

# a static deploy shape must be a multiple of it (:func:`check_hw`)
OUTPUT_STRIDE = 32


class DeployConfigError(ValueError):
    """A deploy config asks for something the model cannot do."""


def is_rgpnet(model: nn.Module) -> bool:
    """Whether ``model`` holds an RGPNet head."""
    return any(type(m).__name__ == 'RGPHead' for m in model.modules())


def check_hw(h: int, w: int, where: str) -> None:
    """Raise :class:`DeployConfigError` (naming ``where``) unless ``h`` and
    ``w`` are positive multiples of :data:`OUTPUT_STRIDE`."""
    hints = []
    for name, v in (('height', int(h)), ('width', int(w))):
        if v <= 0 or v % OUTPUT_STRIDE:
            low = max(OUTPUT_STRIDE, v // OUTPUT_STRIDE * OUTPUT_STRIDE)
            hints.append(f'{name} {v} -> {low} or {low + OUTPUT_STRIDE}')
    if hints:
        raise DeployConfigError(
            f'Input shape {h}x{w} (HxW, {where}) cannot be taken by RGPNet: '
            f'height and width must be multiples of {OUTPUT_STRIDE} (the '
            'encoder\'s output stride: the decoder fuses the 1/4 ... 1/32 '
            'levels, which tile the image only then). Nearest valid: '
            f'{", ".join(hints)}; or use a dynamic-shape deploy config.')


def _is_dynamic_hw(dynamic_axes: Optional[Any], name: str) -> bool:
    return bool({2, 3} & set((dynamic_axes or {}).get(name) or ()))


def model_inputs(deploy_cfg: Any) -> List[dict]:
    """``backend_config.model_inputs`` of a deploy config (or ``[]``)."""
    return (deploy_cfg.get('backend_config') or {}).get('model_inputs') or []


def check_deploy_config(deploy_cfg: Any, name: str = 'deploy config') -> None:
    """Raise :class:`DeployConfigError`, naming the key, unless every (H, W)
    a deploy config fixes (static ``input_shape``, TensorRT profiles) is a
    multiple of 32 equal to a static ONNX shape, and min <= opt <= max."""
    shapes, profiles, static = [], [], None
    onnx_cfg = deploy_cfg.get('onnx_config') or {}
    shape = onnx_cfg.get('input_shape')
    if shape is not None and not _is_dynamic_hw(
            onnx_cfg.get('dynamic_axes'),
            (onnx_cfg.get('input_names') or ['input'])[0]):
        static = (int(shape[1]), int(shape[0]))
        shapes.append((f'onnx_config.input_shape={list(shape)} (W, H)',
                       static))
    for i, params in enumerate(model_inputs(deploy_cfg)):
        for input_name, p in (params.get('input_shapes') or {}).items():
            keys = [k for k in ('min_shape', 'opt_shape', 'max_shape')
                    if p.get(k)]
            shapes += [(f'backend_config.model_inputs[{i}].input_shapes.'
                        f'{input_name}.{k}={list(p[k])}',
                        (int(p[k][-2]), int(p[k][-1]))) for k in keys]
            if len(keys) == 3:
                profiles.append((i, input_name, *(p[k] for k in keys)))
    for where, (h, w) in shapes:
        check_hw(h, w, f'{where} in {name}')
    for where, hw in shapes:
        if static and hw != static:
            raise DeployConfigError(
                f'{name}: {where} does not match the static '
                'onnx_config.input_shape: a static ONNX graph takes '
                f'{static[0]}x{static[1]} (HxW) only')
    for i, input_name, lo, opt, hi in profiles:
        if not all(a <= b <= c for a, b, c in zip(lo, opt, hi)):
            raise DeployConfigError(
                f'{name}: backend_config.model_inputs[{i}] input '
                f'{input_name!r} needs min_shape <= opt_shape <= '
                f'max_shape in every dimension, got {list(lo)}, '
                f'{list(opt)}, {list(hi)}')


def check_export_input(args: Any, dynamic_axes: Optional[Any],
                       input_names: Optional[Iterable[str]]) -> None:
    """:func:`check_hw` of the static H, W of an export's example input."""
    tensor = args[0] if isinstance(args, (tuple, list)) else args
    shape = getattr(tensor, 'shape', None)
    name = next(iter(input_names or ['input']), 'input')
    if shape is not None and len(shape) == 4 and not _is_dynamic_hw(
            dynamic_axes, name):
        check_hw(shape[-2], shape[-1], 'static ONNX input of the export')


def precision_mode(common_config: Dict[str, Any]) -> str:
    """``'int8'``, ``'fp16'``, ``'tf32'`` (the first ``<mode>_mode`` set;
    INT8 falls back to FP16 where ``fp16_mode``) or ``'fp32'`` (no TF32)."""
    return next((m for m in ('int8', 'fp16', 'tf32')
                 if common_config.get(f'{m}_mode')), 'fp32')


def deploy_precision(deploy_cfg: Any) -> str:
    """``'int8'`` (``backend_config.quantization``), ``'bf16'`` (OpenVINO's
    ``inference_precision_hint``), else :func:`precision_mode`."""
    backend_cfg = deploy_cfg.get('backend_config') or {}
    if backend_cfg.get('quantization'):
        return 'int8'
    if backend_cfg.get('inference_precision_hint') == 'bf16':
        return 'bf16'
    return precision_mode(backend_cfg.get('common_config') or {})


def split_dataloader_cfg(model_cfg: Any, split: str,
                         input_shape: Optional[Sequence[int]],
                         max_images: Optional[int] = None,
                         data_root: Optional[str] = None):
    """A copy of ``model_cfg``'s ``{split}_dataloader``: batch 1, in order,
    ``max_images``, ``data_root``, ``Resize`` to a static ``input_shape``."""
    key = f'{split}_dataloader'
    if key not in model_cfg:
        raise KeyError(f'The model config has no {key}')
    cfg = copy.deepcopy(model_cfg[key])
    cfg.update(batch_size=1, num_workers=0, persistent_workers=False,
               sampler=dict(type='DefaultSampler', shuffle=False))
    if data_root:
        cfg.dataset.data_root = data_root
    if max_images:
        cfg.dataset.indices = int(max_images)
    if input_shape is not None:
        resizes = [s for s in cfg.dataset.pipeline if s['type'] == 'Resize']
        if not resizes:
            raise ValueError(
                f'{key}: the test pipeline has no Resize to bring images to '
                f'the static input shape {list(input_shape)} (W, H)')
        for step in resizes:
            step.update(scale=tuple(input_shape), keep_ratio=False)
    return cfg
