# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Report label values that are neither a class nor the ignore index (else
a CUDA ``device-side assert``, or silently dropped pixels in evaluation)."""
from typing import Any, List, Optional, Sequence, Tuple

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

__all__ = ['LabelCheckHook', 'LabelValueError', 'check_label_values']

_MAX_LISTED = 10  # bad values / files listed at most


class LabelValueError(ValueError):
    """A label map holds values that are neither a class nor ignored."""


def _head_limits(model) -> Optional[Tuple[int, int, str]]:
    """``(num_classes, ignore_index, name)`` of the strictest head or None."""
    model = model.module if is_model_wrapper(model) else model
    found = []
    for attr in ('decode_head', 'auxiliary_head'):
        heads = getattr(model, attr, None)
        named = ([(f'{attr}[{i}]', h) for i, h in enumerate(heads)]
                 if isinstance(heads, torch.nn.ModuleList) else
                 [(attr, heads)])
        for name, head in named:
            num_classes = getattr(head, 'num_classes', None)
            if isinstance(num_classes, int):
                found.append((num_classes,
                              int(getattr(head, 'ignore_index', 255)), name))
    return min(found, key=lambda item: item[0]) if found else None


def check_label_values(data_samples: Sequence[Any], num_classes: int,
                       ignore_index: int = 255,
                       owner: str = 'the model') -> None:
    """Raise if a sample's ``gt_sem_seg`` holds a value that is neither in
    ``[0, num_classes)`` nor ``ignore_index``.

    Args:
        data_samples (Sequence[SegDataSample]): A batch's samples.
        num_classes (int): Number of classes.
        ignore_index (int): The ignored label value. Default: 255.
        owner (str): Who the limits come from, for the message.

    Raises:
        LabelValueError: Naming the batch's bad label files and values.
    """
    problems: List[str] = []
    for sample in data_samples:
        label = getattr(getattr(sample, 'gt_sem_seg', None), 'data', None)
        if not isinstance(label, torch.Tensor) or label.numel() == 0:
            continue
        bad = ((label < 0) | (label >= num_classes)) & (label != ignore_index)
        if not bool(bad.any()):
            continue
        values = torch.unique(label[bad]).tolist()
        shown = ', '.join(map(str, values[:_MAX_LISTED])) + (
            f', ... ({len(values)} values)'
            if len(values) > _MAX_LISTED else '')
        path = sample.metainfo.get('seg_map_path', '<unknown file>')
        problems.append(f'{path} holds {int(bad.sum())} pixels with values '
                        f'[{shown}]')
    if problems:
        listed = '; '.join(problems[:_MAX_LISTED])
        raise LabelValueError(
            f'Label values outside the classes: {listed}. {owner} has '
            f'num_classes={num_classes} (labels 0..{num_classes - 1}) and '
            f'ignore_index={ignore_index}; other values would end in a '
            'CUDA device-side assert. Check that the label files hold '
            'train ids (e.g. Cityscapes *_labelTrainIds.png from mmseg\'s '
            'tools/dataset_converters/cityscapes.py), the dataset\'s '
            'reduce_zero_label, and decode_head.num_classes.')


@HOOKS.register_module()
class LabelCheckHook(Hook):
    """Check every batch's label values before the model sees them.

    Only ``0 .. num_classes - 1`` and ``ignore_index`` of the model's heads
    (the smallest ``num_classes``) pass, else :class:`LabelValueError`.

    Args:
        check_val (bool): Also check validation and test batches.
            Default: True.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, check_val: bool = True) -> None:
        self.check_val = bool(check_val)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: Any = None) -> None:
        """Check a training batch."""
        samples = (data_batch.get('data_samples')
                   if isinstance(data_batch, dict) else None)
        limits = _head_limits(runner.model) if samples else None
        if limits is not None:
            check_label_values(samples, *limits[:2],
                               f"The model's {limits[2]}")

    def before_val_iter(self, runner, batch_idx: int,
                        data_batch: Any = None) -> None:
        """Check a validation (or test) batch unless ``check_val=False``."""
        if self.check_val:
            self.before_train_iter(runner, batch_idx, data_batch)

    before_test_iter = before_val_iter
