# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Verify a deployed model (any backend, through mmdeploy's task processor)
against PyTorch: :func:`check_parity` (one image: labels and logits) and
:func:`evaluate_backend_miou` (mIoU on a split of the model config's data
set; paper sec. 4.6: 79.25 FP32 vs 79.26 FP16)."""
import contextlib
import copy
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch

from .checks import model_inputs
from .exporter import SegmentorForExport

# parity with PyTorch (FP32, no TF32): labels and logits for FP32 backends;
# TF32, FP16 (10-bit mantissas flip more pixels), INT8 by labels and mIoU
MIN_PIXEL_AGREEMENT = 0.999
MIN_PIXEL_AGREEMENT_REDUCED = dict(tf32=0.98, fp16=0.98, int8=0.98)
MAX_LOGITS_REL_DIFF = 1e-3


@contextlib.contextmanager
def without_tf32():
    """PyTorch in true FP32 on CUDA while open (TF32 off in matmuls and
    cuDNN, the defaults restored after): the reference of the checks."""
    b = torch.backends
    new = hasattr(b.cudnn, 'conv')  # torch >= 2.9: fp32_precision
    flags = (b.cuda.matmul, b.cudnn.conv, b.cudnn.rnn) if new else (
        b.cuda.matmul, b.cudnn)
    key, off = ('fp32_precision', 'ieee') if new else ('allow_tf32', False)
    saved = [getattr(f, key) for f in flags]
    try:
        for f in flags:
            setattr(f, key, off)
        yield
    finally:
        for f, value in zip(flags, saved):
            setattr(f, key, value)


def deploy_precision(deploy_cfg: Any) -> str:
    """``'int8'`` for ONNX Runtime's ``backend_config.quantization``, else
    TensorRT's ``precision_mode``: int8, fp16, tf32 or fp32."""
    from rgpnet_mmseg.compat.tensorrt import precision_mode
    backend_cfg = deploy_cfg.get('backend_config') or {}
    return 'int8' if backend_cfg.get('quantization') else precision_mode(
        backend_cfg.get('common_config') or {})


def compare_outputs(ref_logits: np.ndarray,
                    output: np.ndarray) -> Dict[str, float]:
    """Compare a backend's labels (N, 1, H, W) or logits (N, C, H, W) with
    PyTorch's logits (N, C, H, W): ``pixel_agreement`` (fraction of equal
    labels) and, for logits, ``logits_max_abs_diff``, ``logits_mean_abs_diff``
    and ``logits_max_abs`` (PyTorch's largest magnitude, for scale)."""
    ref_labels = ref_logits.argmax(1)
    is_logits = np.issubdtype(output.dtype, np.floating) and \
        output.shape == ref_logits.shape
    labels = output.argmax(1) if is_logits else output.reshape(
        ref_labels.shape)
    result = dict(pixel_agreement=float((labels == ref_labels).mean()))
    if is_logits:
        diff = np.abs(output.astype(np.float64) - ref_logits)
        result.update(
            logits_max_abs_diff=float(diff.max()),
            logits_mean_abs_diff=float(diff.mean()),
            logits_max_abs=float(np.abs(ref_logits).max()))
    return result


def _parity_input_shape(deploy_cfg: Any) -> Optional[Sequence[int]]:
    """``(W, H)`` the backend takes: the static shape, else the
    ``opt_shape`` of a TensorRT profile, else None (any)."""
    from mmdeploy.utils import get_input_shape
    opts = [list(s['opt_shape'])[:-3:-1] for p in model_inputs(deploy_cfg)
            for s in (p.get('input_shapes') or {}).values()
            if 'opt_shape' in s]
    shape = get_input_shape(deploy_cfg)
    return opts[0] if shape is None and opts else shape


def check_parity(model_cfg: Any, deploy_cfg: Any, checkpoint: Optional[str],
                 backend_files: Sequence[str], img: Any,
                 device: str = 'cpu') -> Dict[str, Any]:
    """Compare PyTorch (:func:`without_tf32`) and the backend on one tensor
    of ``img`` (mmdeploy's ``create_input``: test pipeline, the backend's
    input shape) through what was exported (:class:`~.exporter.
    SegmentorForExport`) and ``build_backend_model``'s wrapper: the
    conversion alone. Returns ``backend``, ``input_shape``, ``precision``
    (:func:`deploy_precision`), :func:`compare_outputs`'s figures, ``ok``.
    """
    from mmdeploy.apis.utils import build_task_processor
    from mmdeploy.utils import get_backend

    task_processor = build_task_processor(model_cfg, deploy_cfg, device)
    torch_model = task_processor.build_pytorch_model(checkpoint)
    _, inputs = task_processor.create_input(
        img, _parity_input_shape(deploy_cfg),
        data_preprocessor=getattr(torch_model, 'data_preprocessor', None))
    backend_model = task_processor.build_backend_model(list(backend_files))
    with torch.no_grad(), without_tf32():
        ref = SegmentorForExport(torch_model, with_argmax=False)(inputs)
        out = backend_model.wrapper({backend_model.input_name: inputs})
    out = out[backend_model.output_names[0]].cpu()
    result = dict(
        backend=get_backend(deploy_cfg).value, input_shape=list(inputs.shape),
        precision=deploy_precision(deploy_cfg),
        **compare_outputs(ref.float().cpu().numpy(),
                          (out.float() if out.is_floating_point() else
                           out).numpy()))
    if 'logits_max_abs_diff' in result:
        result['logits_rel_diff'] = result['logits_max_abs_diff'] / max(
            result['logits_max_abs'], 1.0)
    reduced = MIN_PIXEL_AGREEMENT_REDUCED.get(result['precision'])
    result['ok'] = result['pixel_agreement'] >= reduced if reduced else (
        result['pixel_agreement'] >= MIN_PIXEL_AGREEMENT
        and result.get('logits_rel_diff', 0) <= MAX_LOGITS_REL_DIFF)
    return result


def format_parity(p: Dict[str, Any]) -> str:
    """One line for the log."""
    mode = p.get('precision', 'fp32')
    tag = '' if mode == 'fp32' else ' ' + mode.upper()
    line = (f'parity {p["backend"]}{tag} vs '
            f'pytorch on input {"x".join(map(str, p["input_shape"]))}: '
            f'{100 * p["pixel_agreement"]:.3f}% of pixels agree')
    if 'logits_max_abs_diff' in p:
        line += (f'; logits max |diff| {p["logits_max_abs_diff"]:.2e}, mean '
                 f'{p["logits_mean_abs_diff"]:.2e} (max |logit| '
                 f'{p["logits_max_abs"]:.2f})')
    reduced = MIN_PIXEL_AGREEMENT_REDUCED.get(mode)
    need = (f'>= {100 * reduced:g}% pixels, {mode.upper()}; see the mIoU)'
            if reduced else f'>= {100 * MIN_PIXEL_AGREEMENT:.1f}% pixels, '
            f'logits within {MAX_LOGITS_REL_DIFF:g} relative)')
    return line + (f' -> OK ({need}' if p['ok'] else
                   f' -> FAILED (needs {need}')


def format_miou(m: Dict[str, Any]) -> str:
    """One line for the log."""
    return (f'mIoU on {m["images"]} {m.get("split", "val")} images: pytorch '
            f'{m["pytorch_miou"]:.2f}, {m.get("backend", "backend")} '
            f'{m["backend_miou"]:.2f} (difference {m["miou_diff"]:+.2f} '
            f'points; {100 * m["pixel_agreement"]:.3f}% of pixels agree)')


def _dataloader_cfg(model_cfg: Any, split: str,
                    input_shape: Optional[Sequence[int]],
                    max_images: Optional[int], data_root: Optional[str]):
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
    if input_shape is not None:  # a static graph: (W, H), as mmdeploy
        resizes = [s for s in cfg.dataset.pipeline if s['type'] == 'Resize']
        if not resizes:
            raise ValueError(
                f'{key}: the test pipeline has no Resize to bring images to '
                f'the static input shape {list(input_shape)} (W, H)')
        for step in resizes:
            step.update(scale=tuple(input_shape), keep_ratio=False)
    return cfg


def _backend_step(backend: Any, data: dict, torch_model: Any) -> list:
    """``backend.test_step(data)`` with PyTorch's postprocessing."""
    from rgpnet_mmseg.apis.inference import postprocess
    batch = backend.data_preprocessor(copy.deepcopy(data), False)
    out = backend.wrapper({backend.input_name: batch['inputs']})
    head = torch_model.decode_head
    return postprocess(out[backend.output_names[0]].cpu(),
                       batch['data_samples'], head.align_corners,
                       getattr(head, 'threshold', None) or 0.3)


def evaluate_backend_miou(model_cfg: Any, deploy_cfg: Any, checkpoint: str,
                          backend_files: Sequence[str], device: str = 'cpu',
                          split: str = 'val',
                          max_images: Optional[int] = None,
                          data_root: Optional[str] = None) -> Dict[str, Any]:
    """mIoU of PyTorch (:func:`without_tf32`) and of the backend model
    (mmdeploy's ``build_pytorch_model``, ``build_backend_model``) on the
    config's ``{split}_dataloader`` (``Resize`` to a static input shape of
    the deploy config; the first ``max_images``; ``data_root``), scored by
    mmseg's ``IoUMetric`` at the original resolution as ``tools/test.py``;
    backend logits resized before the argmax as PyTorch's (tools/infer.py's
    ``postprocess``; mmdeploy's ``pack_result`` resizes labels).
    Returns ``images``, ``pytorch_miou``, ``backend_miou``, ``miou_diff``
    (backend - PyTorch, points) and the labels' ``pixel_agreement``."""
    from mmdeploy.apis.utils import build_task_processor
    from mmdeploy.utils import get_input_shape
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmseg.evaluation import IoUMetric

    init_default_scope(model_cfg.get('default_scope', 'mmseg'))
    task_processor = build_task_processor(model_cfg, deploy_cfg, device)
    loader = Runner.build_dataloader(
        _dataloader_cfg(model_cfg, split, get_input_shape(deploy_cfg),
                        max_images, data_root))
    models = dict(
        pytorch=task_processor.build_pytorch_model(checkpoint),
        backend=task_processor.build_backend_model(list(backend_files)))
    ignore_index = (model_cfg.get(f'{split}_evaluator') or {}).get(
        'ignore_index', 255)
    metrics = {name: IoUMetric(iou_metrics=['mIoU'],
                               ignore_index=ignore_index) for name in models}
    for metric in metrics.values():
        metric.dataset_meta = loader.dataset.metainfo
    same = total = n = 0
    for data in loader:
        with torch.no_grad(), without_tf32():
            outs = dict(pytorch=models['pytorch'].test_step(
                copy.deepcopy(data)), backend=_backend_step(
                    models['backend'], data, models['pytorch']))
        for name, out in outs.items():  # plain dicts, as mmengine's
            metrics[name].process(data, [o.to_dict() for o in out])
        for a, b in zip(outs['pytorch'], outs['backend']):
            pa = a.pred_sem_seg.data.cpu()
            same += int((pa == b.pred_sem_seg.data.cpu().to(pa.dtype)).sum())
            total += pa.numel()
        n += len(outs['pytorch'])
    if n == 0:
        raise ValueError(f'The {split} split has no images')
    result = dict(images=n, pixel_agreement=same / max(total, 1), **{
        f'{name}_miou': float(m.evaluate(n)['mIoU'])
        for name, m in metrics.items()})
    result['miou_diff'] = result['backend_miou'] - result['pytorch_miou']
    return result
