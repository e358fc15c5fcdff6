# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""A deployed model against PyTorch (mmdeploy's task processor, ``test_step``
on the same data): :func:`check_parity` (one image: labels, logits),
:func:`evaluate_backend_miou` (paper sec. 4.6: 79.25 FP32, 79.26 FP16)."""
import contextlib
import copy
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch
from mmdeploy.apis.utils import build_task_processor
from mmdeploy.utils import get_backend, get_input_shape

from .checks import deploy_precision, model_inputs, split_dataloader_cfg

# vs PyTorch FP32: FP32 by labels and logits, reduced precisions by labels
MIN_PIXEL_AGREEMENT = 0.999
MIN_PIXEL_AGREEMENT_REDUCED = dict(tf32=0.98, fp16=0.98, int8=0.98, bf16=0.998)
#: held closer, and failed on an mIoU drop over MAX_MIOU_DROP points
MIN_PIXEL_AGREEMENT_BY_BACKEND = {('openvino', 'int8'): 0.995,
                                  ('openvino', 'bf16'): 0.998}
MAX_MIOU_DROP = 0.5
MAX_LOGITS_REL_DIFF = 1e-3


def reduced_agreement(backend: str, precision: str) -> Optional[float]:
    """The pixel agreement a reduced precision needs (None: FP32)."""
    return MIN_PIXEL_AGREEMENT_BY_BACKEND.get(
        (backend, precision), MIN_PIXEL_AGREEMENT_REDUCED.get(precision))


def miou_ok(backend: str, precision: str, miou_diff: float) -> Optional[bool]:
    """The mIoU verdict where the backend has one (None: reported only)."""
    held = (backend, precision) in MIN_PIXEL_AGREEMENT_BY_BACKEND
    return miou_diff >= -MAX_MIOU_DROP if held else None


@contextlib.contextmanager
def without_tf32():
    """PyTorch in true FP32 on CUDA while open (TF32 off, then restored)."""
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


def compare_outputs(ref_logits: np.ndarray,
                    output: np.ndarray) -> Dict[str, float]:
    """``pixel_agreement`` (and ``logits_*``) of a backend's labels (N, 1,
    H, W) or logits against PyTorch's logits (N, C, H, W)."""
    ref_labels = ref_logits.argmax(1)
    is_logits = np.issubdtype(output.dtype, np.floating) and \
        output.shape == ref_logits.shape
    labels = output.argmax(1) if is_logits else output.reshape(
        ref_labels.shape)
    result = dict(pixel_agreement=float((labels == ref_labels).mean()))
    if is_logits:
        diff = np.abs(output.astype(np.float64) - ref_logits)
        result.update(logits_max_abs_diff=float(diff.max()),
                      logits_mean_abs_diff=float(diff.mean()),
                      logits_max_abs=float(np.abs(ref_logits).max()))
    return result


def _parity_input_shape(deploy_cfg: Any) -> Optional[Sequence[int]]:
    """``(W, H)``: the static shape, else a TensorRT ``opt_shape``, or None."""
    shape = get_input_shape(deploy_cfg)
    return shape if shape is not None else next((
        list(s['opt_shape'])[:-3:-1] for p in model_inputs(deploy_cfg)
        for s in (p.get('input_shapes') or {}).values()
        if 'opt_shape' in s), None)


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
    reduced = reduced_agreement(p['backend'], mode)
    need = (f'>= {100 * reduced:g}% pixels, {mode.upper()}; see the mIoU)'
            if reduced else f'>= {100 * MIN_PIXEL_AGREEMENT:.1f}% pixels, '
            f'logits within {MAX_LOGITS_REL_DIFF:g} relative)')
    return line + (f' -> OK ({need}' if p['ok'] else
                   f' -> FAILED (needs {need}')


def format_miou(m: Dict[str, Any]) -> str:
    """One line for the log."""
    drop = f'a drop of at most {MAX_MIOU_DROP} points)'
    verdict = {True: f' -> OK ({drop}', False: f' -> FAILED (needs {drop}',
               None: ''}[m.get('ok')]
    return (f'mIoU on {m["images"]} {m.get("split", "val")} images: pytorch '
            f'{m["pytorch_miou"]:.2f}, {m.get("backend", "backend")} '
            f'{m["backend_miou"]:.2f} (difference {m["miou_diff"]:+.2f} '
            f'points; {100 * m["pixel_agreement"]:.3f}% of pixels agree)'
            + verdict)


def _models(model_cfg: Any, deploy_cfg: Any, checkpoint: Optional[str],
            backend_files: Sequence[str], device: str,
            with_logits: bool = True) -> tuple:
    """The task processor and ``{'pytorch': ..., 'backend': ...}``."""
    task = build_task_processor(model_cfg, deploy_cfg, device)
    models = dict(pytorch=task.build_pytorch_model(checkpoint),
                  backend=task.build_backend_model(
                      list(backend_files), task.update_data_preprocessor))
    models['backend'].with_logits = with_logits
    return task, models


def _test_step(models: Dict[str, Any], data: dict) -> Dict[str, list]:
    """Each model's ``test_step`` on a copy of ``data``, in true FP32."""
    with torch.no_grad(), without_tf32():
        return {name: model.test_step(copy.deepcopy(data))
                for name, model in models.items()}


def _outputs(samples: list) -> np.ndarray:
    """The logits (N, C, H, W) of SegDataSamples, else labels (N, 1, H, W)."""
    return np.stack([
        (s.seg_logits.data.float() if 'seg_logits' in s else
         s.pred_sem_seg.data).cpu().numpy() for s in samples])


def check_parity(model_cfg: Any, deploy_cfg: Any, checkpoint: Optional[str],
                 backend_files: Sequence[str], img: Any,
                 device: str = 'cpu') -> Dict[str, Any]:
    """PyTorch and the backend on ``img`` at the backend's shape: returns
    ``backend``, ``input_shape``, ``precision``, ``ok`` and
    :func:`compare_outputs`'s figures at the image size."""
    task, models = _models(model_cfg, deploy_cfg, checkpoint, backend_files,
                           device)
    data, _ = task.create_input(img, _parity_input_shape(deploy_cfg))
    outs = _test_step(models, data)
    shape = models['backend'].data_preprocessor(copy.deepcopy(data))[
        'inputs'].shape
    result = dict(
        backend=get_backend(deploy_cfg).value, input_shape=list(shape),
        precision=deploy_precision(deploy_cfg),
        **compare_outputs(_outputs(outs['pytorch']),
                          _outputs(outs['backend'])))
    if 'logits_max_abs_diff' in result:
        result['logits_rel_diff'] = result['logits_max_abs_diff'] / max(
            result['logits_max_abs'], 1.0)
    reduced = reduced_agreement(result['backend'], result['precision'])
    result['ok'] = result['pixel_agreement'] >= reduced if reduced else (
        result['pixel_agreement'] >= MIN_PIXEL_AGREEMENT
        and result.get('logits_rel_diff', 0) <= MAX_LOGITS_REL_DIFF)
    return result


def evaluate_backend_miou(model_cfg: Any, deploy_cfg: Any, checkpoint: str,
                          backend_files: Sequence[str], device: str = 'cpu',
                          split: str = 'val', max_images: Optional[int] = None,
                          data_root: Optional[str] = None) -> Dict[str, Any]:
    """mIoU on :func:`.checks.split_dataloader_cfg`: ``images``,
    ``pytorch_miou``, ``backend_miou``, ``miou_diff`` (backend - PyTorch,
    points), ``pixel_agreement``."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmseg.evaluation import IoUMetric

    init_default_scope(model_cfg.get('default_scope', 'mmseg'))
    _, models = _models(model_cfg, deploy_cfg, checkpoint, backend_files,
                        device, with_logits=False)  # labels are enough
    loader = Runner.build_dataloader(split_dataloader_cfg(
        model_cfg, split, get_input_shape(deploy_cfg), max_images,
        data_root))
    ignore_index = (model_cfg.get(f'{split}_evaluator') or {}).get(
        'ignore_index', 255)
    metrics = {name: IoUMetric(iou_metrics=['mIoU'],
                               ignore_index=ignore_index) for name in models}
    for metric in metrics.values():
        metric.dataset_meta = loader.dataset.metainfo
    same = total = n = 0
    for data in loader:
        outs = _test_step(models, data)
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
