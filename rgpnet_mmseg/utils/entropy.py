# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Per-pixel prediction entropy and border / non-border statistics (the
analysis of the RGPNet paper's fig. 5).

Import it by its path (``from rgpnet_mmseg.utils.entropy import ...``); it
needs only torch and numpy (plus :func:`border_mask` of the label-relaxation
loss).
"""
from typing import Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'entropy_from_logits', 'prediction_border_mask', 'masked_mean',
    'entropy_stats', 'diverging_heatmap'
]


def entropy_from_logits(logits: Tensor, dim: int = 0) -> Tensor:
    """Entropy ``-sum_c p_c log p_c`` (nats) of ``softmax(logits, dim)``.

    Computed from ``log_softmax`` (stable for large logits); classes with
    ``p_c = 0`` (``-inf`` logits) contribute 0. Uniform logits over ``C``
    classes give ``log(C)``, a one-hot-like distribution gives ~0.

    Args:
        logits (Tensor): Logits, e.g. (C, H, W) with ``dim=0`` or
            (N, C, H, W) with ``dim=1``.
        dim (int): The class dimension. Default: 0.

    Returns:
        Tensor: Float tensor of the logits' shape without ``dim``.
    """
    if not logits.dtype.is_floating_point:
        raise TypeError(f'logits must be floating point, got {logits.dtype}')
    logits = logits.float() if logits.dtype in (torch.float16,
                                                torch.bfloat16) else logits
    log_p = F.log_softmax(logits, dim=dim)
    p = log_p.exp()
    plogp = torch.where(p > 0, p * log_p, torch.zeros_like(p))
    return -plogp.sum(dim=dim)


def prediction_border_mask(pred: Tensor,
                           kernel_size: int = 3,
                           num_classes: Optional[int] = None) -> Tensor:
    """Border pixels of a predicted label map (H, W) or (N, H, W): pixels
    whose ``k x k`` window holds more than one predicted class (as
    :func:`border_mask` for ground truth; nothing is ignored)."""
    from rgpnet_mmseg.models.losses.label_relaxation_loss import border_mask
    squeeze = pred.dim() == 2
    if squeeze:
        pred = pred[None]
    # an ignore index no prediction can take
    ignore = -1
    mask = border_mask(
        pred.long(), kernel_size, ignore_index=ignore, num_classes=num_classes)
    return mask[0] if squeeze else mask


def masked_mean(values: Tensor, mask: Tensor) -> float:
    """Mean of ``values`` where ``mask`` is True; NaN if ``mask`` is
    empty."""
    count = int(mask.sum())
    if count == 0:
        return float('nan')
    return float(values[mask].double().mean())


def entropy_stats(entropy_a: Tensor,
                  entropy_b: Tensor,
                  border: Tensor,
                  valid: Optional[Tensor] = None) -> Dict:
    """Mean entropies of two models on border, non-border and all pixels.

    Args:
        entropy_a, entropy_b (Tensor): (H, W) per-pixel entropies.
        border (Tensor): (H, W) bool, the border pixels.
        valid (Tensor, optional): (H, W) bool, pixels to count (e.g. not
            ignored in the ground truth). Default: all.

    Returns:
        dict: ``{'a': {'border', 'non_border', 'all'}, 'b': {...},
        'diff': {...} (a - b), 'num_border', 'num_non_border',
        'border_fraction'}``; means are NaN where a set is empty.
    """
    if entropy_a.shape != entropy_b.shape or entropy_a.shape != border.shape:
        raise ValueError(
            'entropy maps and border mask must have one shape, got '
            f'{tuple(entropy_a.shape)}, {tuple(entropy_b.shape)}, '
            f'{tuple(border.shape)}')
    if valid is None:
        valid = torch.ones_like(border, dtype=torch.bool)
    border = border.bool() & valid
    non_border = valid & ~border
    sets = {'border': border, 'non_border': non_border, 'all': valid}
    out: Dict = {}
    for key, ent in (('a', entropy_a), ('b', entropy_b),
                     ('diff', entropy_a - entropy_b)):
        out[key] = {name: masked_mean(ent, m) for name, m in sets.items()}
    num_border, num_valid = int(border.sum()), int(valid.sum())
    out['num_border'] = num_border
    out['num_non_border'] = num_valid - num_border
    out['border_fraction'] = (num_border / num_valid if num_valid else
                              float('nan'))
    return out


def diverging_heatmap(diff: np.ndarray,
                      vmax: float,
                      cmap: str = 'RdBu_r') -> np.ndarray:
    """(H, W, 3) uint8 RGB picture of ``diff`` in a diverging colormap
    over ``[-vmax, vmax]`` (white at 0; with ``RdBu_r`` negative values are
    blue, positive red)."""
    from matplotlib import colormaps
    if not vmax > 0:
        raise ValueError(f'vmax must be > 0, got {vmax}')
    norm = (np.clip(np.asarray(diff, dtype=np.float64), -vmax, vmax) /
            (2 * vmax) + 0.5)
    rgba = colormaps[cmap](norm)
    return (rgba[..., :3] * 255 + 0.5).astype(np.uint8)
