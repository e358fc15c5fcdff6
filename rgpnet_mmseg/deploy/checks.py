# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Checks of deploy configs against what RGPNet can take, run before any
export so that a wrong shape fails in a second with a message that names
it, not minutes later inside an exporter or a TensorRT build."""
from typing import Any, Iterable, List, Optional, Sequence, Tuple

# RGPNet's encoder has output stride 32: the adaptor fuses the levels 1/4,
# 1/8, 1/16 and 1/32. At other sizes these levels do not tile the image and
# the decoder crops its upsampled features (`match_size`): the graph still
# computes, but the model was trained on multiples of 32 (crops, Cityscapes'
# 1024x2048) and an engine is built for exactly these shapes, so a static
# deploy shape must be a multiple of 32. Dynamic graphs accept any size.
OUTPUT_STRIDE = 32


class DeployConfigError(ValueError):
    """A deploy config asks for something the model cannot do."""


def _nearest(size: int) -> Tuple[int, int]:
    low = max(OUTPUT_STRIDE, size // OUTPUT_STRIDE * OUTPUT_STRIDE)
    return low, low + OUTPUT_STRIDE


def check_hw(h: int, w: int, where: str) -> None:
    """Raise :class:`DeployConfigError` unless ``h`` and ``w`` are positive
    multiples of :data:`OUTPUT_STRIDE`.

    Args:
        h (int): Height.
        w (int): Width.
        where (str): What the shape is, for the message (e.g. the config
            key it came from).
    """
    bad = [(name, v) for name, v in (('height', h), ('width', w))
           if int(v) <= 0 or int(v) % OUTPUT_STRIDE]
    if not bad:
        return
    hints = ', '.join(f'{name} {v} -> {" or ".join(map(str, _nearest(v)))}'
                      for name, v in bad)
    raise DeployConfigError(
        f'Input shape {h}x{w} (HxW, {where}) cannot be taken by RGPNet: '
        f'height and width must be multiples of {OUTPUT_STRIDE} (the '
        f'encoder\'s output stride: the decoder fuses the 1/4 ... 1/32 '
        f'levels, which tile the image only then). Nearest valid: {hints}; '
        'or use a dynamic-shape deploy config.')


def _static_hw(shape: Sequence[int]) -> Tuple[int, int]:
    return int(shape[-2]), int(shape[-1])


def _is_dynamic_hw(dynamic_axes: Optional[Any], name: str) -> bool:
    if not dynamic_axes or name not in dynamic_axes:
        return False
    axes = dynamic_axes[name]
    axes = list(axes.keys()) if isinstance(axes, dict) else list(axes)
    return 2 in axes or 3 in axes


def deploy_input_shapes(deploy_cfg: Any) -> List[Tuple[str, Tuple[int, int]]]:
    """The fixed (H, W) shapes a deploy config asks for, with their source.

    Reads ``onnx_config.input_shape`` (``[W, H]``, mmdeploy's order) when
    the input's height/width are not dynamic, and the TensorRT
    ``min/opt/max_shape`` (``[N, C, H, W]``) of every model input.
    """
    shapes = []
    onnx_cfg = deploy_cfg.get('onnx_config', {}) or {}
    input_names = onnx_cfg.get('input_names') or ['input']
    input_shape = onnx_cfg.get('input_shape')
    if input_shape is not None and not _is_dynamic_hw(
            onnx_cfg.get('dynamic_axes'), input_names[0]):
        w, h = input_shape
        shapes.append((f'onnx_config.input_shape={list(input_shape)} '
                       '(W, H)', (int(h), int(w))))
    backend_cfg = deploy_cfg.get('backend_config', {}) or {}
    model_inputs_list = backend_cfg.get('model_inputs', []) or []
    for i, model_inputs in enumerate(model_inputs_list):
        for name, param in (model_inputs.get('input_shapes') or {}).items():
            for key in ('min_shape', 'opt_shape', 'max_shape'):
                if key in param:
                    where = (f'backend_config.model_inputs[{i}].input_shapes.'
                             f'{name}.{key}={list(param[key])}')
                    shapes.append((where, _static_hw(param[key])))
    return shapes


def check_deploy_config(deploy_cfg: Any, name: str = 'deploy config') -> None:
    """Check every input shape a deploy config fixes (see
    :func:`deploy_input_shapes`) before anything is exported.

    Raises:
        DeployConfigError: A shape RGPNet cannot take, named with its key.
    """
    shapes = deploy_input_shapes(deploy_cfg)
    for where, (h, w) in shapes:
        check_hw(h, w, f'{where} in {name}')
    static = [s for s in shapes if s[0].startswith('onnx_config.')]
    profile = [s for s in shapes if not s[0].startswith('onnx_config.')]
    for where, hw in profile:
        if static and hw != static[0][1]:
            raise DeployConfigError(
                f'{name}: {where} does not match the static '
                f'{static[0][0]}: a static ONNX graph takes '
                f'{static[0][1][0]}x{static[0][1][1]} (HxW) only')
    backend_cfg = deploy_cfg.get('backend_config', {}) or {}
    model_inputs_list = backend_cfg.get('model_inputs', []) or []
    for i, model_inputs in enumerate(model_inputs_list):
        for input_name, p in (model_inputs.get('input_shapes') or {}).items():
            if all(k in p for k in ('min_shape', 'opt_shape', 'max_shape')):
                lo, opt, hi = p['min_shape'], p['opt_shape'], p['max_shape']
                if not all(a <= b <= c for a, b, c in zip(lo, opt, hi)):
                    raise DeployConfigError(
                        f'{name}: backend_config.model_inputs[{i}] '
                        f'input {input_name!r} needs min_shape <= opt_shape '
                        f'<= max_shape in every dimension, got {list(lo)}, '
                        f'{list(opt)}, {list(hi)}')


def check_export_input(args: Any, dynamic_axes: Optional[Any],
                       input_names: Optional[Iterable[str]]) -> None:
    """Check the example input of an RGPNet export: a static height/width
    must be a multiple of :data:`OUTPUT_STRIDE`.

    Raises:
        DeployConfigError: Before the exporter runs.
    """
    tensor = args[0] if isinstance(args, (tuple, list)) else args
    shape = getattr(tensor, 'shape', None)
    if shape is None or len(shape) != 4:
        return
    name = next(iter(input_names or ['input']), 'input')
    if _is_dynamic_hw(dynamic_axes, name):
        return
    h, w = _static_hw(shape)
    check_hw(h, w, 'static ONNX input of the export')
