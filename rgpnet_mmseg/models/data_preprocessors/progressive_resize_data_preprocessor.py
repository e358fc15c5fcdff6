# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Data preprocessor for progressive resizing (RGPNet sec. 3.2 / 4.4)."""
import math
from numbers import Real
from typing import Any, Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import Tensor

from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS

__all__ = ['ProgressiveResizeDataPreProcessor', 'check_train_scale',
           'scaled_size']

# per-pixel ground truths of a SegDataSample, resized by nearest neighbour
PIXEL_FIELDS = ('gt_sem_seg', 'gt_edge_map', 'gt_depth_map')


def check_train_scale(scale: Any, what: str = 'train_scale') -> float:
    """``scale`` as a float; ``ValueError`` outside ``(0, 1]``."""
    if (isinstance(scale, bool) or not isinstance(scale, Real)
            or not math.isfinite(scale) or not 0 < scale <= 1):
        raise ValueError(
            f'{what} must be a number in (0, 1] (a fraction of the '
            f'training crop), got {scale!r}')
    return float(scale)


def scaled_size(size: int, scale: float) -> int:
    """``size * scale`` rounded half up, at least 1."""
    return max(1, int(math.floor(size * scale + 0.5)))


def _nearest_index(in_size: int, out_size: int, device) -> Tensor:
    """Source index of each output pixel, as ``nearest-exact`` resizing."""
    scale = in_size / out_size
    idx = ((torch.arange(out_size, device=device, dtype=torch.float64) + 0.5) *
           scale).floor().long()
    return idx.clamp_(max=in_size - 1)


@MODELS.register_module()
class ProgressiveResizeDataPreProcessor(SegDataPreProcessor):
    """:class:`SegDataPreProcessor` that resizes training batches by
    ``train_scale`` (progressive resizing, RGPNet paper sec. 3.2).

    Only when training, the stacked batch (N, C, H, W) goes to
    ``(round(H * s), round(W * s))``: images bilinearly, the maps of
    ``PIXEL_FIELDS`` by a ``nearest-exact`` gather (labels keep dtype and
    values); the samples' ``img_shape``, ``pad_shape``, ``padding_size``
    and ``scale_factor`` follow. ``train_scale`` (not in the state dict) is
    set by :class:`ProgressiveResizeHook` (docs/progressive_resizing.md).

    Args:
        train_scale (float): Initial scale of training batches, in (0, 1].
            Default: 1.0 (no resizing, a plain ``SegDataPreProcessor``).
        antialias (bool): Antialias the bilinear image downscaling.
            Default: False (as the paper and OpenCV/mmcv).
        **kwargs: The arguments of :class:`SegDataPreProcessor`.
    """

    def __init__(self, *args, train_scale: float = 1.0,
                 antialias: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.train_scale = train_scale
        self.antialias = bool(antialias)

    @property
    def train_scale(self) -> float:
        """Scale applied to training batches, in (0, 1]."""
        return self._train_scale

    @train_scale.setter
    def train_scale(self, value: float) -> None:
        self._train_scale = check_train_scale(value)

    def extra_repr(self) -> str:
        """Extra repr."""
        return f'train_scale={self._train_scale}, antialias={self.antialias}'

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """As :class:`SegDataPreProcessor`, then resized when training."""
        data = super().forward(data, training)
        if training and self._train_scale != 1.0:
            data['inputs'], data['data_samples'] = self.resize_batch(
                data['inputs'], data['data_samples'], self._train_scale)
        return data

    def resize_batch(self, inputs: Tensor, data_samples: Sequence,
                     scale: float) -> Tuple[Tensor, List]:
        """Resize a stacked batch and its ground truths by ``scale``.

        Args:
            inputs (Tensor): Batch of shape (N, C, H, W).
            data_samples (list[SegDataSample]): Its samples; their pixel
                ground truths have shape (1, H, W).
            scale (float): Scale in (0, 1].

        Returns:
            tuple: The resized batch, and the samples updated in place.
        """
        h, w = inputs.shape[-2:]
        out_h, out_w = scaled_size(h, scale), scaled_size(w, scale)
        if (out_h, out_w) == (h, w):
            return inputs, data_samples
        inputs = F.interpolate(inputs, size=(out_h, out_w), mode='bilinear',
                               align_corners=False, antialias=self.antialias)
        rows = _nearest_index(h, out_h, inputs.device)
        cols = _nearest_index(w, out_w, inputs.device)
        ratio_h, ratio_w = out_h / h, out_w / w
        for sample in data_samples:
            for key in PIXEL_FIELDS:
                if key not in sample:
                    continue
                pixel_data = getattr(sample, key)
                resized = PixelData(metainfo=pixel_data.metainfo)
                for name, value in pixel_data.items():
                    if value.shape[-2:] != (h, w):
                        raise ValueError(
                            f'{key}.{name} has shape {tuple(value.shape)}, '
                            f'the batch is {h}x{w}')
                    value = value.index_select(-2, rows.to(value.device))
                    resized.set_data(
                        {name: value.index_select(-1, cols.to(value.device))})
                setattr(sample, key, resized)
            meta = {'pad_shape': (out_h, out_w)}
            img_h, img_w = sample.metainfo.get('img_shape', (h, w))[:2]
            img_h = min(out_h, scaled_size(img_h, ratio_h))
            img_w = min(out_w, scaled_size(img_w, ratio_w))
            meta['img_shape'] = torch.Size((img_h, img_w))
            meta['padding_size'] = [0, out_w - img_w, 0, out_h - img_h]
            factor = sample.metainfo.get('scale_factor')
            if factor is not None and len(factor) == 2:
                meta['scale_factor'] = (factor[0] * ratio_w,
                                        factor[1] * ratio_h)
            sample.set_metainfo(meta)
        return inputs, data_samples
