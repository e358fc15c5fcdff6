# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Per-pixel prediction entropy and its border / non-border means (the
analysis of the RGPNet paper's fig. 5)."""
from typing import Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rgpnet_mmseg.models.losses.label_relaxation_loss import border_mask

__all__ = ['entropy_from_logits', 'prediction_border_mask', 'set_means',
           'entropy_stats', 'diverging_heatmap']


def entropy_from_logits(logits: Tensor, dim: int = 0) -> Tensor:
    """Entropy ``-sum_c p_c log p_c`` (nats, ``log C`` if uniform) of
    ``softmax(logits, dim)``, e.g. (C, H, W) -> (H, W) with ``dim=0``; from
    ``log_softmax`` (stable), ``-inf`` logits (``p_c = 0``) add 0."""
    if not logits.dtype.is_floating_point:
        raise TypeError(f'logits must be floating point, got {logits.dtype}')
    half = logits.dtype in (torch.float16, torch.bfloat16)
    log_p = F.log_softmax(logits.float() if half else logits, dim=dim)
    p = log_p.exp()
    return -torch.where(p > 0, p * log_p, torch.zeros_like(p)).sum(dim=dim)


def prediction_border_mask(pred: Tensor, kernel_size: int = 3,
                           num_classes: Optional[int] = None) -> Tensor:
    """Border pixels (bool, same shape) of a predicted label map (H, W) or
    (N, H, W): :func:`border_mask` with nothing ignored."""
    mask = border_mask(pred.long().reshape(-1, *pred.shape[-2:]), kernel_size,
                       ignore_index=-1, num_classes=num_classes)
    return mask.reshape(pred.shape)


def set_means(maps: Dict[str, Tensor], border: Tensor,
              valid: Tensor) -> Dict[str, Dict[str, float]]:
    """Means of each (H, W) map on the ``border``, ``non_border`` and
    ``all`` pixels among the ``valid`` ones (bool (H, W) masks); NaN for
    an empty set (torch's mean)."""
    border = border.bool() & valid
    sets = {'border': border, 'non_border': valid & ~border, 'all': valid}
    return {key: {name: float(values[mask].double().mean())
                  for name, mask in sets.items()}
            for key, values in maps.items()}


def entropy_stats(entropy_a: Tensor, entropy_b: Tensor, border: Tensor,
                  valid: Optional[Tensor] = None) -> Dict:
    """Mean entropies of two models, (H, W) maps: :func:`set_means` of
    ``a``, ``b`` and ``diff`` (a - b) with the ``border`` mask among the
    ``valid`` pixels (default: all), and ``num_border``,
    ``num_non_border``, ``border_fraction``."""
    if not entropy_a.shape == entropy_b.shape == border.shape:
        raise ValueError(
            'entropy maps and border mask must have one shape, got '
            f'{tuple(entropy_a.shape)}, {tuple(entropy_b.shape)}, '
            f'{tuple(border.shape)}')
    if valid is None:
        valid = torch.ones_like(border, dtype=torch.bool)
    maps = dict(a=entropy_a, b=entropy_b, diff=entropy_a - entropy_b)
    out = set_means(maps, border, valid)
    num_border = int((border.bool() & valid).sum())
    num_valid = int(valid.sum())
    out.update(num_border=num_border, num_non_border=num_valid - num_border,
               border_fraction=num_border / (num_valid or float('nan')))
    return out


def diverging_heatmap(diff: np.ndarray, vmax: float,
                      cmap: str = 'RdBu_r') -> np.ndarray:
    """(H, W, 3) uint8 RGB of ``diff`` in a diverging colormap over
    ``[-vmax, vmax]`` (white at 0; with ``RdBu_r`` negative is blue)."""
    from matplotlib import colormaps
    if not vmax > 0:
        raise ValueError(f'vmax must be > 0, got {vmax}')
    diff = np.clip(np.asarray(diff, dtype=np.float64), -vmax, vmax)
    rgba = colormaps[cmap](diff / (2 * vmax) + 0.5)
    return (rgba[..., :3] * 255 + 0.5).astype(np.uint8)
