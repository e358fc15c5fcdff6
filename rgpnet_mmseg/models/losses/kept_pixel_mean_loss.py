# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from typing import Optional

import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class KeptPixelMeanLoss(nn.Module):
    """A pixel loss averaged over the pixels the sampler keeps, as OHEM in
    the paper's refs. [39, 42] (mmseg divides by all pixels): ``avg_factor``
    is the sampler's weight summed over non-ignored pixels, or their count.

    Args:
        loss (dict): Inner loss config; its ``loss_name`` is this one's.
    """

    def __init__(self, loss: dict) -> None:
        super().__init__()
        self.loss = MODELS.build(loss)

    def forward(self, cls_score: Tensor, label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[Tensor] = None,
                reduction_override: Optional[str] = None,
                ignore_index: int = -100, **kwargs) -> Tensor:
        """Logits (N, C, H, W), label/weight (N, H, W); 'mean' changes."""
        reduction = reduction_override or self.loss.reduction
        if reduction == 'mean' and avg_factor is None:
            kept = label != ignore_index
            avg_factor = (kept if weight is None else weight * kept).sum()
        return self.loss(cls_score, label, weight, avg_factor=avg_factor,
                         reduction_override=reduction_override,
                         ignore_index=ignore_index, **kwargs)

    @property
    def loss_name(self) -> str:
        """The inner loss's name (e.g. ``loss_ce``)."""
        return self.loss.loss_name
