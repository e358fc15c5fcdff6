# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from .progressive_resize_data_preprocessor import (
    ProgressiveResizeDataPreProcessor, check_train_scale, scaled_size)

__all__ = [
    'ProgressiveResizeDataPreProcessor', 'check_train_scale', 'scaled_size'
]
