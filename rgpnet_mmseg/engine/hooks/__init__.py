# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from .label_check_hook import LabelCheckHook
from .load_summary_hook import LoadSummaryHook  # noqa: F401
from .non_finite_loss_hook import NonFiniteLossHook
from .progressive_resize_hook import ProgressiveResizeHook

__all__ = ['LabelCheckHook', 'NonFiniteLossHook', 'ProgressiveResizeHook']
