# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""mIoU of a deployed model next to PyTorch's, on a split of the model
config's data set, for any mmdeploy backend (ONNX Runtime, TensorRT...).

Both models see the same batches from the config's dataloader (its test
pipeline, with ``Resize`` set to the deploy config's static input shape
where it has one) and are scored by mmseg's ``IoUMetric`` at the original
resolution, the way ``tools/test.py`` scores the PyTorch model. Used by
``tools/deploy.py`` for TensorRT FP16 (paper sec. 4.6: 79.26 vs 79.25 mIoU)
and by ``--miou`` for any backend.
"""
import copy
import logging
from typing import Any, Dict, Optional, Sequence

import torch

logger = logging.getLogger('rgpnet_mmseg.deploy')


def _dataloader_cfg(model_cfg: Any, split: str,
                    input_shape: Optional[Sequence[int]],
                    max_images: Optional[int], data_root: Optional[str]):
    key = f'{split}_dataloader'
    if key not in model_cfg:
        raise KeyError(f'The model config has no {key}')
    cfg = copy.deepcopy(model_cfg[key])
    cfg.batch_size = 1
    cfg.num_workers = 0
    cfg.persistent_workers = False
    cfg.sampler = dict(type='DefaultSampler', shuffle=False)
    dataset = cfg.dataset
    if data_root:
        dataset.data_root = data_root
    if max_images:
        dataset.indices = int(max_images)
    if input_shape is not None:  # static engine: (W, H) like mmdeploy
        found = False
        for step in dataset.pipeline:
            if step['type'] == 'Resize':
                step['scale'] = tuple(input_shape)
                step['keep_ratio'] = False
                found = True
        if not found:
            raise ValueError(
                f'{key}: the test pipeline has no Resize to bring images to '
                f'the static input shape {list(input_shape)} (W, H)')
    return cfg


def evaluate_backend_miou(model_cfg: Any,
                          deploy_cfg: Any,
                          checkpoint: str,
                          backend_files: Sequence[str],
                          device: str = 'cpu',
                          split: str = 'val',
                          max_images: Optional[int] = None,
                          data_root: Optional[str] = None) -> Dict[str, Any]:
    """mIoU of PyTorch and of the backend model on the same images.

    Args:
        model_cfg (Config): Model config (with ``{split}_dataloader``).
        deploy_cfg (Config): Deploy config of ``backend_files``.
        checkpoint (str): PyTorch checkpoint.
        backend_files (Sequence[str]): E.g. ``['end2end.engine']``.
        device (str): Device of both models.
        split (str): ``'val'`` or ``'test'``. Default: ``'val'``.
        max_images (int, optional): Use the first N images only.
        data_root (str, optional): Override the data set's ``data_root``.

    Returns:
        dict: ``images``, ``pytorch_miou``, ``backend_miou``,
        ``miou_diff`` (backend - PyTorch, in points) and
        ``pixel_agreement`` of the two label maps.
    """
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
    meta = loader.dataset.metainfo
    torch_model = task_processor.build_pytorch_model(checkpoint)
    backend_model = task_processor.build_backend_model(list(backend_files))
    evaluator_cfg = model_cfg.get(f'{split}_evaluator', {}) or {}
    ignore_index = evaluator_cfg.get('ignore_index', 255)
    metrics = {}
    for name in ('pytorch', 'backend'):
        metrics[name] = IoUMetric(
            iou_metrics=['mIoU'], ignore_index=ignore_index)
        metrics[name].dataset_meta = meta
    same = total = n = 0
    for data in loader:
        with torch.no_grad():
            outs = dict(
                pytorch=torch_model.test_step(copy.deepcopy(data)),
                backend=backend_model.test_step(copy.deepcopy(data)))
        for name, out in outs.items():
            # as mmengine's Evaluator hands them over: plain dicts
            metrics[name].process(data, [o.to_dict() for o in out])
        for a, b in zip(outs['pytorch'], outs['backend']):
            pa = a.pred_sem_seg.data.cpu()
            pb = b.pred_sem_seg.data.cpu().to(pa.dtype)
            same += int((pa == pb).sum())
            total += pa.numel()
        n += len(outs['pytorch'])
    if n == 0:
        raise ValueError(f'The {split} split has no images')
    result = dict(images=n, pixel_agreement=same / max(total, 1))
    for name, metric in metrics.items():
        result[f'{name}_miou'] = float(metric.evaluate(n)['mIoU'])
    result['miou_diff'] = result['backend_miou'] - result['pytorch_miou']
    return result
