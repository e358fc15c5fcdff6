# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from .kept_pixel_mean_loss import KeptPixelMeanLoss
from .label_relaxation_loss import (LabelRelaxationLoss, border_label_mask,
                                    border_mask, label_relaxation_loss)

__all__ = [
    'KeptPixelMeanLoss', 'LabelRelaxationLoss', 'border_label_mask',
    'border_mask', 'label_relaxation_loss'
]
