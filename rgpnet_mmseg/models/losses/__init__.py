# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from .label_relaxation_loss import (LabelRelaxationLoss, border_label_mask,
                                    border_mask, label_relaxation_loss)

__all__ = [
    'LabelRelaxationLoss', 'border_label_mask', 'border_mask',
    'label_relaxation_loss'
]
